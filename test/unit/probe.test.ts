import { describe, expect, it } from 'vitest';
import {
  classifyAdapter,
  probeGpu,
  type AdapterIdentity,
  type GpuReport,
} from '../../src/gpu/probe';
import { guessBrowser } from '../../src/gpu/probe-advice';

interface FakeAdapterSpec {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
  limits?: Record<string, number>;
  features?: string[];
}

/** Limits live on the prototype as in browsers, so the probe must enumerate inherited names. */
function fakeAdapter(spec: FakeAdapterSpec): GPUAdapter {
  const limitValues = {
    maxBufferSize: 2 ** 30,
    maxStorageBufferBindingSize: 2 ** 27,
    ...spec.limits,
  };
  const proto = {};
  for (const [name, value] of Object.entries(limitValues)) {
    Object.defineProperty(proto, name, { get: () => value, enumerable: true });
  }
  return {
    info: {
      vendor: spec.vendor ?? '',
      architecture: spec.architecture ?? '',
      device: spec.device ?? '',
      description: spec.description ?? '',
      isFallbackAdapter: spec.isFallbackAdapter ?? false,
    },
    limits: Object.create(proto),
    features: new Set(spec.features ?? []),
  } as unknown as GPUAdapter;
}

function fakeGpu(
  byPreference: Partial<Record<GPUPowerPreference, GPUAdapter | null>>,
  wgsl: string[] = [],
): GPU {
  return {
    requestAdapter: async (o?: GPURequestAdapterOptions) =>
      byPreference[o?.powerPreference ?? 'high-performance'] ?? null,
    wgslLanguageFeatures: new Set(wgsl),
  } as unknown as GPU;
}

const CHROME_LINUX =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36';
const FIREFOX_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:139.0) Gecko/20100101 Firefox/139.0';
const SAFARI_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.4 Safari/605.1.15';

function identity(spec: Partial<AdapterIdentity>): AdapterIdentity {
  return {
    vendor: '',
    architecture: '',
    device: '',
    description: '',
    isFallbackAdapter: false,
    subgroupMinSize: null,
    subgroupMaxSize: null,
    ...spec,
  };
}

describe('probeGpu', () => {
  it('reads one adapter when both preferences return the same GPU', async () => {
    const adapter = fakeAdapter({
      vendor: 'apple',
      architecture: 'metal-3',
      features: ['subgroups', 'shader-f16'],
      limits: { maxComputeWorkgroupStorageSize: 32768 },
    });
    const result = await probeGpu({
      gpu: fakeGpu({ 'high-performance': adapter, 'low-power': adapter }, [
        'packed_4x8_integer_dot_product',
      ]),
      userAgent: SAFARI_MAC,
      deviceMemory: 8,
      storage: { estimate: async () => ({ quota: 5e10, usage: 1234 }) },
    });
    expect(result.status).toBe('ok');
    const report = result as GpuReport;
    expect(report.sameAdapter).toBe(true);
    expect(report.adapters).toHaveLength(1);
    const [a] = report.adapters;
    expect(a.preferences).toEqual(['high-performance', 'low-power']);
    expect(a.class).toBe('integrated');
    expect(a.features).toEqual(['shader-f16', 'subgroups']);
    expect(a.limits).toEqual({
      maxBufferSize: 2 ** 30,
      maxComputeWorkgroupStorageSize: 32768,
      maxStorageBufferBindingSize: 2 ** 27,
    });
    expect(report.wgslLanguageFeatures).toEqual(['packed_4x8_integer_dot_product']);
    expect(report.hostMemory?.bytes).toBe(8 * 2 ** 30);
    expect(report.hostMemory?.source).toMatch(/deviceMemory/);
    expect(report.storageQuota?.bytes).toBe(5e10);
    expect(report.storageUsage?.bytes).toBe(1234);
    expect(report.warnings).toEqual([]);
  });

  it('reports two adapters and classifies them by role when the GPUs differ', async () => {
    const discrete = fakeAdapter({
      vendor: 'amd',
      architecture: 'rdna-3',
      features: ['shader-f16'],
    });
    const integrated = fakeAdapter({
      vendor: 'amd',
      architecture: 'rdna-3',
      limits: { maxBufferSize: 2 ** 28 },
    });
    const report = (await probeGpu({
      gpu: fakeGpu({ 'high-performance': discrete, 'low-power': integrated }),
    })) as GpuReport;
    expect(report.sameAdapter).toBe(false);
    expect(report.adapters.map((a) => [a.preferences, a.class])).toEqual([
      [['high-performance'], 'discrete'],
      [['low-power'], 'integrated'],
    ]);
    expect(report.adapters[1].limits.maxBufferSize).toBe(2 ** 28);
    expect(report.hostMemory).toBeNull();
    expect(report.storageQuota).toBeNull();
  });

  it('labels a fallback adapter as software and warns that it is slow', async () => {
    const adapter = fakeAdapter({
      vendor: 'google',
      architecture: 'swiftshader',
      isFallbackAdapter: true,
    });
    const report = (await probeGpu({
      gpu: fakeGpu({ 'high-performance': adapter, 'low-power': adapter }),
    })) as GpuReport;
    expect(report.adapters[0].class).toBe('software');
    expect(report.adapters[0].info.isFallbackAdapter).toBe(true);
    expect(report.warnings.join(' ')).toMatch(/software adapter.*slowly/);
    expect(report.warnings.join(' ')).toMatch(/no shader-f16/);
  });

  it('says what to do when the browser has no navigator.gpu', async () => {
    const result = await probeGpu({ gpu: undefined, userAgent: CHROME_LINUX });
    expect(result.status).toBe('no-webgpu');
    if (result.status === 'ok') throw new Error('unreachable');
    expect(result.message).toMatch(/does not offer WebGPU/);
    expect(result.advice.join(' ')).toContain('chrome://flags/#enable-unsafe-webgpu');
    expect(result.advice.join(' ')).toMatch(/Chrome or Edge 113/);
  });

  it('tells an insecure page to move to https', async () => {
    const result = await probeGpu({
      gpu: undefined,
      userAgent: CHROME_LINUX,
      secureContext: false,
    });
    if (result.status === 'ok') throw new Error('expected a failure');
    expect(result.advice.join(' ')).toMatch(/secure pages/);
  });

  it('gives Firefox off Windows its own advice', async () => {
    const result = await probeGpu({ gpu: undefined, userAgent: FIREFOX_MAC });
    if (result.status === 'ok') throw new Error('expected a failure');
    expect(result.advice.join(' ')).toMatch(/only on Windows \(141\+\)/);
  });

  it('says what to do when there is no adapter', async () => {
    const result = await probeGpu({ gpu: fakeGpu({}), userAgent: CHROME_LINUX });
    expect(result.status).toBe('no-adapter');
    if (result.status === 'ok') throw new Error('unreachable');
    expect(result.advice.join(' ')).toMatch(/hardware acceleration/);
    expect(result.advice.join(' ')).toContain('chrome://flags/#enable-vulkan');
  });

  it('turns a throwing requestAdapter into a message instead of an exception', async () => {
    const gpu = {
      requestAdapter: async () => {
        throw new Error('GPU process crashed');
      },
    } as unknown as GPU;
    const result = await probeGpu({ gpu });
    expect(result.status).toBe('error');
    if (result.status === 'ok') throw new Error('unreachable');
    expect(result.message).toContain('GPU process crashed');
  });

  it('keeps going when the storage estimate is refused', async () => {
    const adapter = fakeAdapter({ vendor: 'nvidia' });
    const report = (await probeGpu({
      gpu: fakeGpu({ 'high-performance': adapter, 'low-power': adapter }),
      storage: {
        estimate: async () => {
          throw new Error('denied');
        },
      },
    })) as GpuReport;
    expect(report.status).toBe('ok');
    expect(report.storageQuota).toBeNull();
  });
});

describe('classifyAdapter', () => {
  it.each([
    [{ vendor: 'mesa', architecture: 'software', description: 'llvmpipe (LLVM 15)' }, 'software'],
    [{ vendor: 'nvidia', architecture: 'ampere' }, 'discrete'],
    [{ vendor: 'intel', architecture: 'xe-hpg' }, 'discrete'],
    [{ vendor: 'intel', architecture: 'gen-12lp' }, 'integrated'],
    [{ vendor: 'amd', description: 'AMD Radeon RX 7900 XTX' }, 'discrete'],
    [{ vendor: 'amd', description: 'AMD Radeon(TM) Graphics' }, 'integrated'],
    [{ vendor: 'qualcomm', architecture: 'adreno-7xx' }, 'integrated'],
    [{ vendor: 'amd', architecture: 'rdna-3' }, 'unknown'],
    [{ vendor: '' }, 'unknown'],
  ] as const)('%j is %s', (spec, expected) => {
    expect(classifyAdapter(identity(spec)).class).toBe(expected);
  });
});

describe('guessBrowser', () => {
  it('reads family, version and platform', () => {
    expect(guessBrowser(CHROME_LINUX)).toEqual({
      family: 'chromium',
      version: 156,
      platform: 'linux',
    });
    expect(guessBrowser(FIREFOX_MAC)).toEqual({
      family: 'firefox',
      version: 139,
      platform: 'macos',
    });
    expect(guessBrowser(SAFARI_MAC)).toEqual({ family: 'safari', version: 18, platform: 'macos' });
  });
});
