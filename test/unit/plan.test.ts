// The planner on header-only GGUFs of real models (written by the fixture writer, parsed by the
// engine's header reader): byte accounting against independent sums, and the decision order.
import { describe, expect, it } from 'vitest';
import { engineBufferPlan } from '../../src/engine/gguf/buffer-plan.ts';
import {
  BLOCK_LAYOUT,
  GGMLType,
  type ModelHeader,
  type TensorInfo,
} from '../../src/engine/gguf/types.ts';
import { accountModel } from '../../src/plan/accounting.ts';
import { DEFAULT_MARGIN, marginBytes, NO_MARGIN } from '../../src/plan/budget.ts';
import { describeAdapter, withUserBudget } from '../../src/plan/device.ts';
import { planModel } from '../../src/plan/planner.ts';
import type { DeviceDescription, PlanWishes } from '../../src/plan/types.ts';
import { REAL_SHAPES, realShape, realShapeHeader } from '../fixtures/real-shapes.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

const desktop = describeAdapter({
  name: 'test GPU',
  adapterClass: 'discrete',
  limits: { maxStorageBufferBindingSize: 2 ** 31 - 4, maxBufferSize: 2 ** 32 },
  features: ['shader-f16'],
});

function gpu(budgetBytes: number, base: DeviceDescription = desktop): DeviceDescription {
  return withUserBudget(base, budgetBytes);
}

/** Mulberry32, so a failing budget reproduces. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Independent statement of how the engine stores a group of tensors (issue 3: one buffer per
// group, f32 vectors first, each matrix at a 256-byte offset in rows padded to 4 bytes).
/** Packed rows are padded to 4 bytes, Q8_0 and Q6_K rows to 16 (vector block reads). */
function rowAlignment(t: TensorInfo): number {
  return t.type === GGMLType.Q8_0 || t.type === GGMLType.Q6_K ? 16 : 4;
}

function referenceRowBytes(t: TensorInfo): number {
  const layout = BLOCK_LAYOUT[t.type]!;
  const align = rowAlignment(t);
  return Math.ceil(((t.dims[0] / layout.values) * layout.bytes) / align) * align;
}

function referenceGroupBytes(tensors: TensorInfo[]): number {
  const vectors = tensors.filter((t) => t.dims.length === 1);
  const vectorValues = vectors.reduce((a, t) => a + t.dims[0], 0);
  let offset = Math.ceil(Math.max(4, vectorValues * 4) / 256) * 256;
  for (const t of tensors.filter((t) => t.dims.length > 1)) {
    offset = Math.ceil(offset / 256) * 256 + referenceRowBytes(t) * t.dims[1];
  }
  return offset;
}

function layerOf(header: ModelHeader, layer: number): TensorInfo[] {
  return header.tensors.filter((t) => t.name.startsWith(`blk.${layer}.`));
}

function fileWeightBytes(header: ModelHeader): number {
  return header.tensors.reduce((a, t) => a + t.bytes, 0);
}

/** KV per token by the issue's formula: layers x kv_heads x (key_dim + value_dim) x 2 bytes. */
function kvFormula(header: ModelHeader): number {
  const h = header.hparams;
  return h.blockCount * h.headCountKv * (h.keyLength + h.valueLength) * 2;
}

/** Everything on the GPU at full residency, summed independently of the planner. */
function fullResidencyBytes(
  header: ModelHeader,
  contextTokens: number,
  compute: 'f16' | 'f32',
): number {
  const h = header.hparams;
  const layers = Array.from({ length: h.blockCount }, (_, i) =>
    referenceGroupBytes(layerOf(header, i)),
  );
  const embedding = referenceGroupBytes(
    header.tensors.filter((t) => t.name === 'token_embd.weight'),
  );
  const head = referenceGroupBytes(
    header.tensors.filter((t) => !t.name.startsWith('blk.') && t.name !== 'token_embd.weight'),
  );
  const buffers = engineBufferPlan(h, {
    contextTokens,
    computePrecision: compute,
    kvPrecision: 'f16',
  });
  return (
    layers.reduce((a, b) => a + b, 0) +
    embedding +
    head +
    buffers.scratchBytes +
    contextTokens * kvFormula(header)
  );
}

describe('real-shape headers', () => {
  it.each(REAL_SHAPES.filter((s) => s.publishedBytes).map((s) => s.id))(
    '%s: tensor data adds up to the published file size',
    async (id) => {
      const header = await realShapeHeader(id);
      const published = realShape(id).publishedBytes!;
      const tensorBytes = fileWeightBytes(header);
      // What is left of the published file is its header: the full tokenizer (up to ~8 MiB).
      expect(published - tensorBytes).toBeGreaterThan(0);
      expect(published - tensorBytes).toBeLessThan(8 * MiB);
    },
  );

  it('uses the tensor types real Q4_K_M files use', async () => {
    const header = await realShapeHeader('Llama-3.1-8B-Q4_K_M');
    const type = (name: string) => header.tensors.find((t) => t.name === name)!.type;
    expect(type('output.weight')).toBe(GGMLType.Q6_K);
    expect(type('token_embd.weight')).toBe(GGMLType.Q4_K);
    // use_more_bits(i, 32): i < 4, i >= 28, or (i - 4) % 3 == 2.
    const q6 = Array.from({ length: 32 }, (_, i) => i).filter(
      (i) => type(`blk.${i}.attn_v.weight`) === GGMLType.Q6_K,
    );
    expect(q6).toEqual([0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);
    expect(type('blk.6.ffn_down.weight')).toBe(GGMLType.Q6_K);
    expect(type('blk.5.ffn_down.weight')).toBe(GGMLType.Q4_K);
    const smol = await realShapeHeader('SmolLM2-360M-Q4_K_M');
    const smolType = (name: string) => smol.tensors.find((t) => t.name === name)!.type;
    // 960-wide rows are not whole 256-value blocks: Q4_K falls back to Q5_0, Q6_K to Q8_0.
    expect(smolType('blk.5.attn_q.weight')).toBe(GGMLType.Q5_0);
    expect(smolType('blk.0.attn_v.weight')).toBe(GGMLType.Q8_0);
    expect(smolType('token_embd.weight')).toBe(GGMLType.Q8_0);
    const qwen = await realShapeHeader('Qwen2.5-7B-Q4_K_M');
    expect(qwen.tensors.filter((t) => t.name.endsWith('.bias'))).toHaveLength(28 * 3);
  });
});

describe('byte accounting', () => {
  it.each(REAL_SHAPES.map((s) => s.id))(
    '%s: packed weights equal the tensor sizes, layer by layer',
    async (id) => {
      const header = await realShapeHeader(id);
      const account = accountModel(header, 'file', desktop.limits.maxStorageBufferBindingSize);
      account.layerBytes.forEach((bytes, layer) => {
        expect(bytes).toBe(referenceGroupBytes(layerOf(header, layer)));
      });
      const plan = planModel(header, [gpu(64 * GiB)], { contextTokens: 4096, weights: 'file' });
      expect(plan.fits).toBe('full');
      const stored = fileWeightBytes(header);
      // Packing adds only alignment (< 256 bytes per tensor) and row padding (to 4 or 16 bytes).
      const padding = header.tensors.reduce(
        (a, t) => a + (rowAlignment(t) - 1) * (t.dims[1] ?? 0),
        0,
      );
      expect(plan.bytes.gpu.weights).toBeGreaterThanOrEqual(stored);
      expect(plan.bytes.gpu.weights - stored).toBeLessThanOrEqual(
        256 * header.tensors.length + padding,
      );
      expect(plan.bytes.host.weights).toBe(0);
      expect(plan.bytes.gpu.slots).toBe(0);
    },
  );

  it.each(REAL_SHAPES.map((s) => s.id))(
    '%s: KV bytes per token by the formula, KV total by context',
    async (id) => {
      const header = await realShapeHeader(id);
      const plan = planModel(header, [gpu(64 * GiB)], { contextTokens: 4096 });
      expect(plan.kvBytesPerToken).toBe(kvFormula(header));
      expect(plan.bytes.gpu.kv).toBe(4096 * kvFormula(header));
      expect(plan.bytes.gpu.total).toBe(fullResidencyBytes(header, 4096, 'f16'));
    },
  );

  it("takes scratch from the engine's buffer plan, at the engine's prefill chunk", async () => {
    const header = await realShapeHeader('Qwen2.5-7B-Q4_K_M');
    for (const [prefillChunk, compute] of [
      [undefined, 'f16'],
      [64, 'f32'],
      [512, 'f16'],
    ] as const) {
      const plan = planModel(header, [gpu(64 * GiB)], {
        contextTokens: 8192,
        prefillChunk,
        compute,
      });
      const engine = engineBufferPlan(header.hparams, {
        contextTokens: 8192,
        computePrecision: compute,
        prefillChunk,
      });
      expect(plan.bytes.gpu.scratch).toBe(engine.scratchBytes);
      expect(plan.bytes.gpu.kv).toBe(engine.kvBytes);
    }
  });

  it('Llama-3.1-8B takes 131072 KV bytes per token at f16 (512 MiB at 4k)', async () => {
    const plan = planModel(await realShapeHeader('Llama-3.1-8B-Q4_K_M'), [gpu(64 * GiB)], {
      contextTokens: 4096,
    });
    expect(plan.kvBytesPerToken).toBe(131072);
    expect(plan.bytes.gpu.kv).toBe(512 * MiB);
  });

  it('quantizing F16 to Q8_0 on load takes 34 bytes per 32 values', async () => {
    const header = await realShapeHeader('Qwen3-0.6B-F16');
    const f16 = accountModel(header, 'file', 2 ** 31);
    const q8 = accountModel(header, 'q8_0', 2 ** 31);
    const matrices = layerOf(header, 3).filter((t) => t.dims.length > 1);
    const values = matrices.reduce((a, t) => a + t.dims[0] * t.dims[1], 0);
    const vectors = referenceGroupBytes(layerOf(header, 3).filter((t) => t.dims.length === 1));
    expect(f16.layerBytes[3]).toBe(vectors + values * 2);
    expect(q8.layerBytes[3]).toBe(vectors + (values / 32) * 34);
  });

  it('streamed layers cost host memory and two slots the size of the largest streamed layer', async () => {
    const header = await realShapeHeader('Llama-3.1-8B-Q4_K_M');
    const account = accountModel(header, 'file', desktop.limits.maxStorageBufferBindingSize);
    for (const resident of [0, 1, 5, 16, 31]) {
      const plan = planModel(header, [gpu(64 * GiB)], {
        contextTokens: 4096,
        residentLayers: resident,
      });
      const streamed = account.layerBytes.slice(0, 32 - resident);
      expect(plan.layers).toMatchObject({ resident, streamed: 32 - resident });
      expect(plan.bytes.host.weights).toBe(streamed.reduce((a, b) => a + b, 0));
      expect(plan.bytes.gpu.slots).toBe(2 * Math.max(...streamed));
      const full = fullResidencyBytes(header, 4096, 'f16');
      expect(plan.bytes.gpu.total).toBe(full - plan.bytes.host.weights + plan.bytes.gpu.slots);
    }
  });
});

describe('decisions', () => {
  it.each(REAL_SHAPES.map((s) => s.id))(
    '%s: full exactly when everything fits under the budget',
    async (id) => {
      const header = await realShapeHeader(id);
      const context = 4096;
      const need = fullResidencyBytes(header, context, 'f16');
      const next = random(7);
      const wishes: PlanWishes = {
        contextTokens: context,
        contextFloor: context,
        weights: 'file',
        margin: NO_MARGIN,
      };
      for (const budget of [
        need - 1,
        need,
        need + 1,
        ...Array.from({ length: 40 }, () => Math.round(need * (0.5 + next()))),
      ]) {
        const plan = planModel(header, [gpu(budget)], wishes);
        expect(plan.fits === 'full', `budget ${budget}, need ${need}`).toBe(need <= budget);
      }
      // With the default margin, the smallest budget whose usable part holds everything.
      let lo = need;
      let hi = need * 2 + GiB;
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        if (mid - marginBytes(mid, DEFAULT_MARGIN) >= need) hi = mid;
        else lo = mid + 1;
      }
      const withMargin = { ...wishes, margin: DEFAULT_MARGIN };
      expect(planModel(header, [gpu(lo)], withMargin).fits).toBe('full');
      expect(planModel(header, [gpu(lo - 1)], withMargin).fits).not.toBe('full');
    },
  );

  it.each(REAL_SHAPES.map((s) => s.id))(
    '%s: more budget never gives fewer resident layers, a shorter context or a worse verdict',
    async (id) => {
      const header = await realShapeHeader(id);
      const next = random(id.length);
      const budgets = Array.from({ length: 80 }, () => 2 ** (28 + next() * 7)).sort(
        (a, b) => a - b,
      );
      const rank = { none: 0, partial: 1, full: 2 } as const;
      let previous = planModel(header, [gpu(budgets[0])]);
      for (const budget of budgets.slice(1)) {
        const plan = planModel(header, [gpu(budget)]);
        expect(plan.layers.resident, `budget ${budget}`).toBeGreaterThanOrEqual(
          previous.layers.resident,
        );
        expect(rank[plan.fits]).toBeGreaterThanOrEqual(rank[previous.fits]);
        if (plan.fits !== 'none' && previous.fits !== 'none') {
          expect(plan.contextTokens).toBeGreaterThanOrEqual(previous.contextTokens);
        }
        expect(
          plan.fits === 'none' || plan.bytes.gpu.total <= plan.layers.devices[0].budget.usableBytes,
        ).toBe(true);
        previous = plan;
      }
    },
  );

  it.each(REAL_SHAPES.map((s) => s.id))(
    '%s: the context shrinks before layers drop',
    async (id) => {
      const header = await realShapeHeader(id);
      const floor = Math.min(4096, header.hparams.contextLength);
      const next = random(11);
      for (let i = 0; i < 40; i++) {
        const plan = planModel(header, [gpu(2 ** (28 + next() * 6))]);
        if (plan.fits === 'partial') expect(plan.contextTokens).toBe(floor);
        if (plan.contextTokens < header.hparams.contextLength && plan.fits !== 'none') {
          expect(plan.fits === 'full' || plan.contextTokens === floor).toBe(true);
        }
        if (plan.fits === 'full' && plan.contextTokens < header.hparams.contextLength) {
          // One more context step would not have fitted.
          const longer = fullResidencyBytes(
            header,
            plan.contextTokens + 256,
            plan.precision.compute,
          );
          const usable = plan.layers.devices[0].budget.usableBytes;
          const q8 = plan.precision.weights === 'q8_0';
          if (!q8) expect(longer).toBeGreaterThan(usable);
        }
      }
    },
  );

  it.each(REAL_SHAPES.map((s) => s.id))(
    '%s: every plan for random budgets and wishes is consistent',
    async (id) => {
      const header = await realShapeHeader(id);
      const h = header.hparams;
      const next = random(id.length * 31);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
      for (let i = 0; i < 60; i++) {
        const wishes: PlanWishes = {
          contextTokens: pick([undefined, 2048, 4096, 8192, 32768]),
          contextFloor: pick([undefined, 1024, 4096]),
          weights: pick(['auto', 'file', 'q8_0'] as const),
          qualityFloor: pick(['int8', 'as-stored'] as const),
          compute: pick(['auto', 'f32'] as const),
        };
        const budget = 2 ** (28 + next() * 7);
        const plan = planModel(header, [gpu(budget)], wishes);
        const what = `${id} ${JSON.stringify(wishes)} budget ${budget}`;
        const requested = Math.min(wishes.contextTokens ?? h.contextLength, h.contextLength);
        const floor = Math.min(wishes.contextFloor ?? 4096, requested);
        expect(plan.contextTokens, what).toBeGreaterThanOrEqual(floor);
        expect(plan.contextTokens, what).toBeLessThanOrEqual(requested);
        expect(plan.kvBytesPerToken).toBe(kvFormula(header));
        if (wishes.weights === 'file') expect(plan.precision.weights).toBe('file');
        if (wishes.weights === 'q8_0') expect(plan.precision.weights).toBe('q8_0');
        if (wishes.weights === 'auto' && wishes.qualityFloor === 'as-stored') {
          expect(plan.precision.weights).toBe('file');
        }
        if (plan.fits === 'none') {
          expect(plan.layers.resident).toBe(0);
          expect(plan.reasons.join(' ')).toMatch(/Will not run/);
          continue;
        }
        const g = plan.bytes.gpu;
        expect(g.total, what).toBe(g.weights + g.kv + g.scratch + g.slots);
        expect(g.total, what).toBeLessThanOrEqual(plan.layers.devices[0].budget.usableBytes);
        expect(g.kv).toBe(plan.contextTokens * kvFormula(header));
        expect(plan.layers.resident + plan.layers.streamed).toBe(h.blockCount);
        expect(plan.fits === 'full').toBe(plan.layers.streamed === 0);
        expect(g.slots === 0).toBe(plan.layers.streamed === 0);
        expect(plan.bytes.host.weights === 0).toBe(plan.layers.streamed === 0);
        if (plan.fits === 'partial') expect(plan.contextTokens).toBe(floor);
        expect(plan.predicted.decodeTokensPerSecond).toBeGreaterThan(0);
        expect(plan.predicted.bound).toBe(
          plan.predicted.uploadSeconds > plan.predicted.computeSeconds ? 'upload' : 'compute',
        );
      }
    },
  );

  it('a budget below the smallest runnable configuration gives none, with the reason', async () => {
    const header = await realShapeHeader('Llama-3.1-8B-Q4_K_M');
    const account = accountModel(header, 'file', desktop.limits.maxStorageBufferBindingSize);
    const scratch = engineBufferPlan(header.hparams, {
      contextTokens: 4096,
      computePrecision: 'f16',
    }).scratchBytes;
    const smallest =
      account.embeddingBytes +
      account.headBytes +
      2 * Math.max(...account.layerBytes) +
      4096 * 131072 +
      scratch;
    const none = planModel(header, [gpu(smallest - 1)], { margin: NO_MARGIN });
    expect(none.fits).toBe('none');
    expect(none.layers.resident).toBe(0);
    expect(none.reasons.join(' ')).toMatch(
      /Will not run: even with every layer streamed and a context of 4096 tokens/,
    );
    expect(none.smallerQuantization).toBeNull();
    expect(none.reasons.at(-1)).toMatch(/No smaller quantization the engine runs/);
    const just = planModel(header, [gpu(smallest)], { margin: NO_MARGIN });
    expect(just).toMatchObject({
      fits: 'partial',
      contextTokens: 4096,
      layers: { resident: 0, streamed: 32 },
    });
  });

  it('prefers F16 weights, then INT8 via Q8_0, and honours the quality floor', async () => {
    const header = await realShapeHeader('Qwen3-0.6B-F16');
    const need = (w: 'file' | 'q8_0') => {
      const plan = planModel(header, [gpu(64 * GiB)], { weights: w, margin: NO_MARGIN });
      return plan.bytes.gpu.total;
    };
    const f16 = need('file');
    const q8 = need('q8_0');
    expect(q8).toBeLessThan(f16);
    expect(planModel(header, [gpu(f16)], { margin: NO_MARGIN }).precision.weights).toBe('file');
    const between = planModel(header, [gpu(f16 - 1)], { margin: NO_MARGIN });
    expect(between).toMatchObject({
      fits: 'full',
      contextTokens: 40960,
      precision: { weights: 'q8_0' },
    });
    expect(between.reasons.join(' ')).toMatch(/quantized to INT8 \(Q8_0\) on load/);
    const floor = planModel(header, [gpu(f16 - 1)], {
      margin: NO_MARGIN,
      qualityFloor: 'as-stored',
    });
    expect(floor.precision.weights).toBe('file');
    expect(floor.contextTokens).toBeLessThan(40960);
    const quantized = planModel(await realShapeHeader('Llama-3.1-8B-Q4_K_M'), [gpu(64 * GiB)]);
    expect(quantized.precision.weights).toBe('file');
  });

  it('gates: shader-f16, binding size per row, buffer size per group', async () => {
    const header = await realShapeHeader('Qwen3-0.6B-F16');
    const noF16 = gpu(8 * GiB, { ...desktop, features: [] });
    expect(planModel(header, [noF16]).precision.compute).toBe('f32');
    const forced = planModel(header, [noF16], { compute: 'f16' });
    expect(forced.fits).toBe('none');
    expect(forced.reasons.join(' ')).toMatch(/lacks shader-f16/);
    expect(planModel(header, [gpu(8 * GiB)], { compute: 'f32' }).precision.compute).toBe('f32');
    const lavapipe = gpu(8 * GiB, { ...desktop, name: 'lavapipe', adapterClass: 'software' });
    const onSoftware = planModel(header, [lavapipe]);
    expect(onSoftware.precision.compute).toBe('f32');
    expect(onSoftware.reasons.join(' ')).toMatch(/f32 compute: lavapipe is CPU-backed/);
    expect(planModel(header, [lavapipe], { compute: 'f16' }).precision.compute).toBe('f16');
    expect(planModel(header, [gpu(8 * GiB)]).precision.compute).toBe('f16');

    const tinyBinding = gpu(8 * GiB, {
      ...desktop,
      limits: { maxStorageBufferBindingSize: 1024, maxBufferSize: 2 ** 32 },
    });
    const rows = planModel(header, [tinyBinding]);
    expect(rows.fits).toBe('none');
    expect(rows.reasons.join(' ')).toMatch(
      /Weights as stored cannot run here: .*more than one binding \(1024\); this device cannot run the model/,
    );

    // The F16 embedding (297 MiB) is larger than a 256 MiB buffer; as Q8_0 (158 MiB) it fits.
    const smallBuffers = gpu(8 * GiB, {
      ...desktop,
      limits: { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 256 * MiB },
    });
    const plan = planModel(header, [smallBuffers]);
    expect(plan).toMatchObject({ fits: 'full', precision: { weights: 'q8_0' } });
    expect(plan.reasons.join(' ')).toMatch(
      /token embedding packs to 297 MiB, more than test GPU's largest buffer \(256 MiB\)/,
    );
  });

  it('refuses a file with a type the engine cannot run, naming the tensor', async () => {
    const header = await realShapeHeader('Llama-3.2-1B-Q8_0');
    const tensors = header.tensors.map((t) =>
      t.name === 'blk.3.ffn_up.weight' ? { ...t, type: GGMLType.Q8_1 } : t,
    );
    const plan = planModel({ ...header, tensors }, [gpu(64 * GiB)]);
    expect(plan.fits).toBe('none');
    expect(plan.reasons.join(' ')).toMatch(
      /Tensor blk.3.ffn_up.weight is stored as Q8_1, which the engine cannot run/,
    );
  });

  it('streams INT8 rather than F16 layers when an F16 model must be split', async () => {
    const header = await realShapeHeader('Qwen3-0.6B-F16');
    const plan = planModel(header, [gpu(900 * MiB)], { margin: NO_MARGIN });
    expect(plan).toMatchObject({
      fits: 'partial',
      precision: { weights: 'q8_0' },
      contextTokens: 4096,
    });
    const asStored = planModel(header, [gpu(900 * MiB)], {
      margin: NO_MARGIN,
      qualityFloor: 'as-stored',
    });
    expect(asStored.precision.weights).toBe('file');
    expect(asStored.layers.resident).toBeLessThan(plan.layers.resident);
  });

  it('rejects impossible wishes with a clear error', async () => {
    const header = await realShapeHeader('Llama-3.2-1B-Q8_0');
    expect(() => planModel(header, [gpu(GiB)], { contextTokens: 0 })).toThrow(
      /context length must be a positive whole number/,
    );
    expect(() => planModel(header, [gpu(GiB)], { residentLayers: 17 })).toThrow(/from 0 to 16/);
    expect(() => planModel(header, [])).toThrow(/one or two devices/);
    const capped = planModel(header, [gpu(64 * GiB)], { contextTokens: 10 ** 6 });
    expect(capped.contextTokens).toBe(131072);
    expect(capped.reasons.join(' ')).toMatch(/capped at the model's maximum/);
  });
});
