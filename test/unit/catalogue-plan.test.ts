import { describe, expect, it } from 'vitest';
import type { AdapterReport, GpuReport } from '../../src/gpu/probe';
import { planModel } from '../../src/plan/planner';
import { DEFAULT_SETTINGS, type Settings } from '../../src/store/settings';
import { parseModelUrl, planningHeader } from '../../src/app/models/header-loader';
import { pinnedSplit, planInputs } from '../../src/app/models/plan-input';
import { webllmEntries, webllmVerdict } from '../../src/app/models/webllm-entries';
import type { PrebuiltModel } from '../../src/engine/webllm/catalog';
import { realShapeHeader } from '../fixtures/real-shapes';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

function adapter(
  preferences: GPUPowerPreference[],
  cls: AdapterReport['class'],
  features: string[],
): AdapterReport {
  return {
    preferences,
    info: {
      vendor: cls === 'discrete' ? 'nvidia' : 'intel',
      architecture: cls === 'discrete' ? 'ampere' : 'gen-12lp',
      device: '',
      description: '',
      isFallbackAdapter: false,
      subgroupMinSize: null,
      subgroupMaxSize: null,
    },
    class: cls,
    classReason: 'test',
    limits: { maxStorageBufferBindingSize: 2 * GiB, maxBufferSize: 4 * GiB },
    features,
    memoryHeaps: null,
  };
}

function report(adapters: AdapterReport[], deviceMemoryGiB = 16): GpuReport {
  return {
    status: 'ok',
    adapters,
    sameAdapter: adapters.length === 1,
    wgslLanguageFeatures: [],
    hostMemory: { bytes: deviceMemoryGiB * GiB, source: 'test' },
    storageQuota: null,
    storageUsage: null,
    warnings: [],
    userAgent: 'test',
  };
}

const twoGpus = report([
  adapter(['high-performance'], 'discrete', ['shader-f16']),
  adapter(['low-power'], 'integrated', []),
]);

describe('planInputs', () => {
  it('maps the settings to planner wishes', () => {
    const settings: Settings = {
      ...DEFAULT_SETTINGS,
      memoryMarginMiB: 768,
      budgetOverrideMiB: 3072,
      computePrecision: 'f32',
      weightPrecision: 'int8',
      contextLength: 2048,
    };
    const { devices, wishes } = planInputs(twoGpus, settings, 32);
    expect(devices).toHaveLength(1);
    expect(devices[0].adapterClass).toBe('discrete');
    expect(devices[0].memoryBudget).toMatchObject({ value: 3072 * MiB, source: 'user' });
    expect(wishes).toEqual({
      contextTokens: 2048,
      compute: 'f32',
      weights: 'q8_0',
      margin: { fraction: 0.1, minBytes: 768 * MiB },
    });
  });

  it('follows the GPU choice when the browser offers two', () => {
    const low = planInputs(twoGpus, { ...DEFAULT_SETTINGS, gpuChoice: 'low-power' }, 32);
    expect(low.devices.map((d) => d.adapterClass)).toEqual(['integrated']);
    expect(low.devices[0].memoryBudget.value).toBe(8 * GiB);
    const split = planInputs(
      twoGpus,
      { ...DEFAULT_SETTINGS, gpuChoice: 'split', layerSplit: 20 },
      32,
    );
    expect(split.devices.map((d) => d.adapterClass)).toEqual(['discrete', 'integrated']);
    expect(split.wishes.pinnedLayers).toEqual([
      [0, 19],
      [20, 31],
    ]);
    const automatic = planInputs(twoGpus, { ...DEFAULT_SETTINGS, gpuChoice: 'split' }, 32);
    expect(automatic.wishes.pinnedLayers).toBeUndefined();
  });

  it("names each adapter for the worker, and takes a model's own pins and a retry's budgets over the settings", async () => {
    const settings = { ...DEFAULT_SETTINGS, gpuChoice: 'split' as const, layerSplit: 20 };
    // Llama-3.2-1B has 16 layers.
    const { devices, wishes } = planInputs(twoGpus, settings, 16, undefined, {
      pinnedLayers: pinnedSplit(8, 16),
      budgets: [900 * MiB, 450 * MiB],
    });
    expect(devices.map((d) => d.adapter)).toEqual([
      {
        powerPreference: 'high-performance',
        vendor: 'nvidia',
        architecture: 'ampere',
        device: '',
        description: '',
      },
      {
        powerPreference: 'low-power',
        vendor: 'intel',
        architecture: 'gen-12lp',
        device: '',
        description: '',
      },
    ]);
    expect(wishes.pinnedLayers).toEqual([
      [0, 7],
      [8, 15],
    ]);
    expect(devices.map((d) => d.memoryBudget)).toMatchObject([
      { value: 900 * MiB, source: 'user' },
      { value: 450 * MiB, source: 'user' },
    ]);
    // The plan carries each part's adapter request, so the worker opens the right GPU for it.
    const plan = planModel(await realShapeHeader('Llama-3.2-1B-Q8_0'), devices, wishes);
    expect(plan.layers.devices.map((d) => [d.adapter?.powerPreference, d.layers])).toEqual([
      ['high-performance', [0, 7]],
      ['low-power', [8, 15]],
    ]);
  });

  it('ignores the GPU choice with one adapter', () => {
    const one = report([adapter(['high-performance', 'low-power'], 'integrated', [])]);
    const { devices } = planInputs(
      one,
      { ...DEFAULT_SETTINGS, gpuChoice: 'split', layerSplit: 3 },
      16,
    );
    expect(devices).toHaveLength(1);
  });

  it('keeps a pinned split inside the model', () => {
    expect(pinnedSplit(0, 16)).toEqual([
      [0, 0],
      [1, 15],
    ]);
    expect(pinnedSplit(99, 16)).toEqual([
      [0, 14],
      [15, 15],
    ]);
  });

  it('feeds the planner a plan that fits a small model and refuses an impossible budget', async () => {
    const header = planningHeader(await realShapeHeader('SmolLM2-360M-Q4_K_M'));
    const roomy = planInputs(twoGpus, DEFAULT_SETTINGS, header.hparams.blockCount);
    const plan = planModel(header, roomy.devices, roomy.wishes);
    expect(plan.fits).toBe('full');
    expect(plan.precision.compute).toBe('f16');
    const tight = planInputs(
      twoGpus,
      { ...DEFAULT_SETTINGS, budgetOverrideMiB: 64, memoryMarginMiB: 0 },
      header.hparams.blockCount,
    );
    expect(planModel(header, tight.devices, tight.wishes).fits).not.toBe('full');
  });
});

describe('planningHeader', () => {
  it('drops long metadata arrays and keeps shapes', async () => {
    const header = await realShapeHeader('Qwen3-0.6B-F16');
    const withVocab = {
      ...header,
      metadata: {
        ...header.metadata,
        'tokenizer.ggml.tokens': Array.from({ length: 1000 }, String),
      },
    };
    const small = planningHeader(withVocab);
    expect(small.metadata['tokenizer.ggml.tokens']).toBeUndefined();
    expect(small.tensors).toBe(header.tensors);
    expect(small.hparams).toBe(header.hparams);
  });
});

describe('parseModelUrl', () => {
  it('turns a Hugging Face page link into a download link', () => {
    expect(parseModelUrl(' https://huggingface.co/o/r/blob/main/m-Q4_K_M.gguf ')).toEqual({
      href: 'https://huggingface.co/o/r/resolve/main/m-Q4_K_M.gguf',
      label: 'm-Q4_K_M.gguf',
    });
    expect(parseModelUrl('http://127.0.0.1:8080/models/tiny.gguf')).toEqual({
      href: 'http://127.0.0.1:8080/models/tiny.gguf',
      label: 'tiny.gguf',
    });
  });

  it('says what is wrong with other text', () => {
    expect(parseModelUrl('model.gguf')).toEqual({
      error: expect.stringMatching(/not a web address/),
    });
    expect(parseModelUrl('ftp://x/y.gguf')).toEqual({ error: expect.stringMatching(/http\(s\)/) });
  });
});

describe('WebLLM entries', () => {
  const model = (id: string, vramMB: number, requiredFeatures: string[] = []): PrebuiltModel => {
    const [, family, quantization] = /^(.*)-(q\w+)-MLC$/.exec(id)!;
    return {
      id,
      family,
      quantization,
      vramMB,
      contextWindow: 4096,
      lowResource: false,
      requiredFeatures,
    };
  };
  const models = [
    model('Big-q4f16_1-MLC', 6000, ['shader-f16']),
    model('Big-q4f32_1-MLC', 8000),
    model('Small-q4f16_1-MLC', 500, ['shader-f16']),
    model('Small-q4f32_1-MLC', 700),
    model('Only16-q0f16-MLC', 900, ['shader-f16']),
  ];

  it('picks one 4-bit variant per family for the adapter, smallest first', () => {
    expect(webllmEntries(true, models).map((e) => e.model.id)).toEqual([
      'Small-q4f16_1-MLC',
      'Big-q4f16_1-MLC',
    ]);
    expect(webllmEntries(false, models).map((e) => e.model.id)).toEqual([
      'Small-q4f32_1-MLC',
      'Big-q4f32_1-MLC',
    ]);
  });

  it('compares WebLLM memory needs with the usable budget', () => {
    const { devices, wishes } = planInputs(twoGpus, DEFAULT_SETTINGS, 2);
    const fits = webllmVerdict(models[2], devices[0], wishes.margin!);
    expect(fits.fits).toBe('full');
    expect(fits.needBytes).toBe(500 * MiB);
    expect(fits.usableBytes).toBe(4 * GiB - 512 * MiB);
    expect(fits.decodeTokensPerSecond).toBeCloseTo(devices[0].computeRate.value / (500 * MiB));
    const tooBig = webllmVerdict(models[0], devices[0], wishes.margin!);
    expect(tooBig.fits).toBe('none');
    expect(tooBig.reasons.join(' ')).toMatch(/6000 MiB/);
    const integrated = planInputs(twoGpus, { ...DEFAULT_SETTINGS, gpuChoice: 'low-power' }, 2);
    const noF16 = webllmVerdict(models[2], integrated.devices[0], wishes.margin!);
    expect(noF16.fits).toBe('none');
    expect(noF16.reasons.join(' ')).toMatch(/lacks shader-f16/);
  });
});

describe('planInputs with calibration', () => {
  const measured = (p: GPUPowerPreference) =>
    p === 'high-performance'
      ? { calibratedBytes: 3 * GiB, uploadBytesPerSecond: 7e9, computeBytesPerSecond: 9e10 }
      : undefined;

  it('uses the measured figures while the calibration setting is on', () => {
    const { devices } = planInputs(twoGpus, DEFAULT_SETTINGS, 32, measured);
    expect(devices[0].memoryBudget).toMatchObject({ value: 3 * GiB, source: 'calibration' });
    expect(devices[0].uploadBandwidth).toMatchObject({ value: 7e9, source: 'measured' });
    expect(devices[0].computeRate).toMatchObject({ value: 9e10, source: 'measured' });
  });

  it('ignores them when it is off, and a budget set by hand wins', () => {
    const off = planInputs(twoGpus, { ...DEFAULT_SETTINGS, calibrationProbe: false }, 32, measured);
    expect(off.devices[0].memoryBudget.source).toBe('estimate');
    expect(off.devices[0].computeRate.source).toBe('estimate');
    const user = planInputs(
      twoGpus,
      { ...DEFAULT_SETTINGS, budgetOverrideMiB: 1024 },
      32,
      measured,
    );
    expect(user.devices[0].memoryBudget).toMatchObject({ value: GiB, source: 'user' });
  });
});
