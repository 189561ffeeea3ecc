// RoPE (+ q/k RMSNorm, KV store) and attention over the f16 KV cache, against an f64 reference:
// a 5-token prefill then a decode token, GQA, both rotary pairings, qwen3's per-head norms.
import { describe, expect, it } from 'vitest';
import { openTestDevice, poison, random, readBuffer, storageBuffer } from '../harness';
import { attentionKernel, ropeKernel, ropeTable } from '../../../src/engine/gguf/kernels/fixed';
import {
  PipelineCache,
  type BufferSlice,
  type Kernel,
} from '../../../src/engine/gguf/kernels/pipeline';
import { qkvWidth } from '../../../src/engine/gguf/buffer-plan';
import { roundToF16 } from '../../../src/engine/gguf/half';
import type { ModelHparams } from '../../../src/engine/gguf/types';

const CTX = 16;

function hparams(pairing: 'adjacent' | 'neox', softCap: number): ModelHparams {
  return {
    architecture: pairing === 'neox' ? 'qwen3' : 'llama',
    name: 'test',
    blockCount: 1,
    embeddingLength: 256,
    feedForwardLength: 512,
    headCount: 4,
    headCountKv: 2,
    keyLength: 64,
    valueLength: 64,
    contextLength: CTX,
    vocabSize: 10,
    rmsEpsilon: 1e-6,
    ropeTheta: 10000,
    ropeDims: 64,
    ropePairing: pairing,
    ropeScaling: { type: 'none', factor: 1 },
    ropeAttnFactor: 1,
    tiedEmbeddings: false,
    slidingWindow: 0,
    slidingPeriod: 0,
    ropeThetaLocal: 10000,
    attentionSoftCap: softCap,
    finalSoftCap: 0,
  };
}

/** Reference: the head vector normalized (optionally) and rotated at position p, in f64. */
function rotate(h: ModelHparams, x: number[], p: number, norm?: Float64Array): number[] {
  let v = x.slice();
  if (norm) {
    const s = 1 / Math.sqrt(v.reduce((a, b) => a + b * b, 0) / v.length + h.rmsEpsilon);
    v = v.map((a, i) => a * s * norm[i]);
  }
  const out = v.slice();
  const half = h.ropeDims / 2;
  for (let i = 0; i < half; i++) {
    const theta = p * Math.pow(h.ropeTheta, (-2 * i) / h.ropeDims);
    const [a, b] = h.ropePairing === 'neox' ? [i, i + half] : [2 * i, 2 * i + 1];
    out[a] = v[a] * Math.cos(theta) - v[b] * Math.sin(theta);
    out[b] = v[a] * Math.sin(theta) + v[b] * Math.cos(theta);
  }
  return out;
}

type Case = [string, 'swiftshader' | 'lavapipe', 'adjacent' | 'neox', boolean, number, number];
/** name, adapter, pairing, q/k norm, sliding window (0: none), attention soft-cap (0: none) */
const cases: Case[] = [
  ['llama pairs', 'swiftshader', 'adjacent', false, 0, 0],
  ['NeoX halves with q/k norm', 'swiftshader', 'neox', true, 0, 0],
  ['a window of 3 and a soft-cap of 0.5', 'swiftshader', 'neox', true, 3, 0.5],
  ['llama pairs', 'lavapipe', 'adjacent', false, 0, 0],
  ['NeoX halves with q/k norm', 'lavapipe', 'neox', true, 0, 0],
  ['a window of 3 and a soft-cap of 0.5', 'lavapipe', 'neox', false, 3, 0.5],
];

describe.each(cases)('rope + attention: %s on %s', (_, adapter, pairing, qkNorm, window, cap) => {
  it('matches the f64 reference for a prefill of 5 tokens and a decode token', async () => {
    const h = hparams(pairing, cap);
    const { device } = await openTestDevice(adapter);
    const cache = new PipelineCache(device);
    const next = random(21);
    const width = qkvWidth(h);
    const norms = Float32Array.from({ length: 2 * h.keyLength }, () => 0.5 + next());
    const vecs = storageBuffer(device, norms);
    const rope = await cache.get(
      ropeKernel(h, qkNorm ? { qNormIndex: 0, kNormIndex: h.keyLength } : {}),
      'rope',
    );
    const attention = await cache.get(attentionKernel(h, window), 'attention');
    const kvBytes = CTX * h.headCountKv * h.keyLength * 2;
    const kcache = storageBuffer(device, kvBytes);
    const vcache = storageBuffer(device, kvBytes);
    const table = storageBuffer(device, ropeTable(h, CTX));
    const step = device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const keys: number[][][] = [];
    const values: number[][][] = [];
    const run = async (k: Kernel, slices: BufferSlice[], x: number, y: number) => {
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(k.pipeline);
      pass.setBindGroup(0, cache.bindGroup(k, slices));
      pass.dispatchWorkgroups(x, y);
      pass.end();
      device.queue.submit([encoder.finish()]);
    };
    for (const [pos0, ntok] of [
      [0, 5],
      [5, 1],
    ]) {
      const qkvData = Float32Array.from({ length: ntok * width }, () => next() * 2 - 1);
      const qkv = storageBuffer(device, qkvData);
      const out = storageBuffer(device, ntok * h.headCount * h.valueLength * 4);
      poison(device, out);
      device.queue.writeBuffer(step, 0, new Uint32Array([ntok, pos0, 0, 0]));
      await run(
        rope,
        [
          { buffer: step },
          { buffer: qkv },
          { buffer: vecs },
          { buffer: table },
          { buffer: kcache },
          { buffer: vcache },
        ],
        h.headCount + 2 * h.headCountKv,
        ntok,
      );
      await run(
        attention,
        [
          { buffer: step },
          { buffer: qkv },
          { buffer: kcache },
          { buffer: vcache },
          { buffer: out },
        ],
        h.headCount,
        ntok,
      );
      const got = new Float32Array(await readBuffer(device, out));
      const D = h.keyLength;
      for (let t = 0; t < ntok; t++) {
        const p = pos0 + t;
        const row = Array.from(qkvData.subarray(t * width, (t + 1) * width));
        const kNorm = qkNorm ? Float64Array.from(norms.subarray(D)) : undefined;
        const qNorm = qkNorm ? Float64Array.from(norms.subarray(0, D)) : undefined;
        keys[p] = [];
        values[p] = [];
        for (let kh = 0; kh < h.headCountKv; kh++) {
          const k = rotate(
            h,
            row.slice(h.headCount * D + kh * D, h.headCount * D + (kh + 1) * D),
            p,
            kNorm,
          );
          keys[p][kh] = k.map(roundToF16);
          const vStart = h.headCount * D + h.headCountKv * D + kh * D;
          values[p][kh] = row.slice(vStart, vStart + D).map(roundToF16);
        }
        for (let head = 0; head < h.headCount; head++) {
          const q = rotate(h, row.slice(head * D, (head + 1) * D), p, qNorm);
          const kh = Math.floor(head / (h.headCount / h.headCountKv));
          const first = window ? Math.max(0, p - window + 1) : 0;
          const scores = keys.slice(first, p + 1).map((k) => {
            const score = q.reduce((a, qi, i) => a + qi * k[kh][i], 0) / Math.sqrt(D);
            return cap ? cap * Math.tanh(score / cap) : score;
          });
          const max = Math.max(...scores);
          const w = scores.map((s) => Math.exp(s - max));
          const sum = w.reduce((a, b) => a + b, 0);
          for (let d = 0; d < D; d++) {
            const value = (j: number) => values[first + j][kh][d];
            const expected = w.reduce((a, wj, j) => a + wj * value(j), 0) / sum;
            const scale = w.reduce((a, wj, j) => a + wj * Math.abs(value(j)), 0) / sum;
            const actual = got[t * h.headCount * D + head * D + d];
            expect(
              Math.abs(actual - expected) / (scale + 1e-30),
              `pos ${p} head ${head} dim ${d}`,
            ).toBeLessThan(1e-4);
          }
        }
      }
    }
    device.destroy();
  });
});
