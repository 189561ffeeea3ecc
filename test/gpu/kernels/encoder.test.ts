// The encoder's own kernels against f64 references on random inputs: LayerNorm with a residual or
// a position-table add, GELU as ggml's CPU backend rounds it, and attention within each of several
// sequences packed into one pass (GQA, with and without RoPE), its output buffer poisoned first.
import { describe, expect, it } from 'vitest';
import { ADAPTERS, openTestDevice, poison, random, readBuffer, storageBuffer } from '../harness';
import {
  encoderAttentionKernel,
  geluKernel,
  layerNormKernel,
  type LayerNormExtra,
} from '../../../src/engine/gguf/kernels/encoder';
import { ropeTable } from '../../../src/engine/gguf/kernels/fixed';
import { PipelineCache, type BufferSlice } from '../../../src/engine/gguf/kernels/pipeline';
import { qkvWidth } from '../../../src/engine/gguf/buffer-plan';
import { roundToF16 } from '../../../src/engine/gguf/half';
import type { ModelHparams } from '../../../src/engine/gguf/types';

const E = 96;
const FF = 160;
const H = 4;
const HKV = 2;
const D = 32;
/** Three sequences packed back to back: 1, 5 and 3 tokens. */
const LENGTHS = [1, 5, 3];
const NTOK = LENGTHS.reduce((a, b) => a + b, 0);

const h: ModelHparams = {
  architecture: 'nomic-bert',
  name: 'encoder kernels',
  blockCount: 1,
  embeddingLength: E,
  feedForwardLength: FF,
  headCount: H,
  headCountKv: HKV,
  keyLength: D,
  valueLength: D,
  contextLength: 16,
  vocabSize: 10,
  rmsEpsilon: 1e-5,
  ropeTheta: 1000,
  ropeDims: 24,
  ropePairing: 'neox',
  ropeScaling: { type: 'none', factor: 1 },
  ropeAttnFactor: 1,
  tiedEmbeddings: false,
  slidingWindow: 0,
  slidingPeriod: 0,
  ropeThetaLocal: 1000,
  attentionSoftCap: 0,
  finalSoftCap: 0,
};

/** Per token: its sequence's first token and the one past its last. */
function spans(): Uint32Array {
  const out = new Uint32Array(NTOK * 2);
  let at = 0;
  for (const n of LENGTHS) {
    for (let t = at; t < at + n; t++) out.set([at, at + n], t * 2);
    at += n;
  }
  return out;
}

async function dispatch(
  device: GPUDevice,
  cache: PipelineCache,
  variant: Parameters<PipelineCache['get']>[0],
  slices: BufferSlice[],
  x: number,
): Promise<void> {
  const kernel = await cache.get(variant);
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(0, cache.bindGroup(kernel, slices));
  pass.dispatchWorkgroups(x, NTOK);
  pass.end();
  device.queue.submit([encoder.finish()]);
}

function stepBuffer(device: GPUDevice): GPUBuffer {
  const step = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(step, 0, new Uint32Array([NTOK, 0, 0, 0]));
  return step;
}

describe.each(ADAPTERS)('encoder kernels on %s', (adapter) => {
  it.each(['none', 'token', 'position'] as const)(
    'LayerNorm adding %s matches the f64 reference',
    async (extra: LayerNormExtra) => {
      const { device } = await openTestDevice(adapter);
      const cache = new PipelineCache(device);
      const next = random(7);
      const hidden = Float32Array.from({ length: NTOK * E }, () => next() * 4 - 1);
      const rows = Float32Array.from({ length: NTOK * E }, () => next() * 2 - 1);
      // Weight at 0, bias at E.
      const vecs = Float32Array.from({ length: 2 * E }, (_, i) => (i < E ? 0.5 + next() : next()));
      const hiddenBuffer = storageBuffer(device, hidden);
      const slices = [
        { buffer: stepBuffer(device) },
        { buffer: hiddenBuffer },
        { buffer: storageBuffer(device, vecs) },
        ...(extra === 'none' ? [] : [{ buffer: storageBuffer(device, rows) }]),
        ...(extra === 'position' ? [{ buffer: storageBuffer(device, spans()) }] : []),
      ];
      await dispatch(device, cache, layerNormKernel(h, 0, E, extra), slices, 1);
      const got = new Float32Array(await readBuffer(device, hiddenBuffer));
      const starts = spans();
      for (let t = 0; t < NTOK; t++) {
        const row = extra === 'token' ? t : extra === 'position' ? t - starts[t * 2] : -1;
        const x = Array.from(
          { length: E },
          (_, i) => hidden[t * E + i] + (row < 0 ? 0 : rows[row * E + i]),
        );
        const mean = x.reduce((a, b) => a + b, 0) / E;
        const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / E;
        const scale = 1 / Math.sqrt(variance + h.rmsEpsilon);
        for (let i = 0; i < E; i++) {
          const want = (x[i] - mean) * scale * vecs[i] + vecs[E + i];
          expect(got[t * E + i]).toBeCloseTo(want, 4);
        }
      }
      device.destroy();
    },
  );

  it("GELU matches ggml's f16-table evaluation", async () => {
    const { device } = await openTestDevice(adapter);
    const cache = new PipelineCache(device);
    const next = random(11);
    const x = Float32Array.from({ length: NTOK * FF }, () => next() * 26 - 13);
    const y = storageBuffer(device, x);
    await dispatch(
      device,
      cache,
      geluKernel(h),
      [{ buffer: stepBuffer(device) }, { buffer: y }],
      1,
    );
    const got = new Float32Array(await readBuffer(device, y));
    const f = Math.fround;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      const r = roundToF16(v);
      // ggml's table entry: 0.5f*x*(1.0f + tanhf(SQRT_2_OVER_PI*x*(1.0f + GELU_COEF_A*x*x))) in
      // f32 for the f16 input, stored as f16.
      const z = f(f(f(0.7978845608) * r) * f(1 + f(f(f(0.044715) * r) * r)));
      const table = roundToF16(f(f(0.5 * r) * f(1 + f(Math.tanh(z)))));
      const want = v <= -10 ? 0 : v >= 10 ? v : table;
      // One f16 step, or where 1 + tanh cancels (large negative inputs) four f32 steps of tanh
      // near -1, times 0.5 |x|.
      expect(Math.abs(got[i] - want), `gelu(${v})`).toBeLessThanOrEqual(
        Math.max(Math.abs(want) * 2 ** -10, Math.abs(r) * 2 ** -23),
      );
    }
    device.destroy();
  });

  it.each([false, true])(
    'attention within each packed sequence (RoPE %s) matches the f64 reference',
    async (rope) => {
      const { device } = await openTestDevice(adapter);
      const cache = new PipelineCache(device);
      const next = random(rope ? 5 : 3);
      const width = qkvWidth(h);
      const qkv = Float32Array.from({ length: NTOK * width }, () => next() * 2 - 1);
      const out = storageBuffer(device, NTOK * H * D * 4);
      poison(device, out);
      const table = ropeTable(h, 16);
      await dispatch(
        device,
        cache,
        encoderAttentionKernel(h, 16, rope),
        [
          { buffer: stepBuffer(device) },
          { buffer: storageBuffer(device, qkv) },
          { buffer: storageBuffer(device, spans()) },
          { buffer: out },
          ...(rope ? [{ buffer: storageBuffer(device, table) }] : []),
        ],
        H,
      );
      const got = new Float32Array(await readBuffer(device, out));
      const half = h.ropeDims / 2;
      const rotate = (v: number[], p: number) => {
        if (!rope) return v;
        const r = v.slice();
        for (let i = 0; i < half; i++) {
          const theta = p * Math.pow(h.ropeTheta, (-2 * i) / h.ropeDims);
          r[i] = v[i] * Math.cos(theta) - v[i + half] * Math.sin(theta);
          r[i + half] = v[i] * Math.sin(theta) + v[i + half] * Math.cos(theta);
        }
        return r;
      };
      const head = (t: number, offset: number) =>
        Array.from(qkv.subarray(t * width + offset, t * width + offset + D));
      const starts = spans();
      for (let t = 0; t < NTOK; t++) {
        const [start, end] = [starts[t * 2], starts[t * 2 + 1]];
        for (let hq = 0; hq < H; hq++) {
          const kh = Math.floor(hq / (H / HKV));
          const q = rotate(head(t, hq * D), t - start);
          const scores: number[] = [];
          for (let j = start; j < end; j++) {
            const k = rotate(head(j, H * D + kh * D), j - start);
            scores.push(q.reduce((a, qi, i) => a + qi * k[i], 0) / Math.sqrt(D));
          }
          const m = Math.max(...scores);
          const weights = scores.map((s) => Math.exp(s - m));
          const total = weights.reduce((a, b) => a + b, 0);
          for (let d = 0; d < D; d++) {
            let want = 0;
            for (let j = start; j < end; j++) {
              want += (weights[j - start] / total) * head(j, H * D + HKV * D + kh * D)[d];
            }
            expect(got[(t * H + hq) * D + d], `token ${t} head ${hq}`).toBeCloseTo(want, 5);
          }
        }
      }
      device.destroy();
    },
  );
});
