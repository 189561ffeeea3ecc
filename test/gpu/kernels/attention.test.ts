// RoPE (+ q/k RMSNorm, KV store) and attention over the f16 KV cache, against an f64 reference:
// a 240-token prefill, a decode token and a short pass over the same positions, GQA with 2 and 4
// query heads per KV head, both rotary pairings, qwen3's per-head norms, sliding windows and
// soft-caps. With a 4096-token cache attention cuts the context into splits of 128 positions (two
// 64-position tiles), so the passes end inside a split and windows start inside a tile; the decode
// token must give the same bits as the same position in the short pass.
import { describe, expect, it } from 'vitest';
import { openTestDevice, poison, random, readBuffer, storageBuffer } from '../harness';
import { ropeKernel, ropeTable } from '../../../src/engine/gguf/kernels/fixed';
import type { PassWorkgroup } from '../../../src/engine/gguf/kernels/pass-workgroup';
import { attentionKernels } from '../../../src/engine/gguf/kernels/attention';
import {
  PipelineCache,
  type BufferSlice,
  type Kernel,
} from '../../../src/engine/gguf/kernels/pipeline';
import { attentionSplit, qkvWidth } from '../../../src/engine/gguf/buffer-plan';
import { roundToF16 } from '../../../src/engine/gguf/half';
import type { ModelHparams } from '../../../src/engine/gguf/types';
import { attentionHparams } from './attention-hparams';

const CTX = 4096;

function hparams(pairing: 'adjacent' | 'neox', softCap: number, kvHeads: number): ModelHparams {
  return attentionHparams({
    architecture: pairing === 'neox' ? 'qwen3' : 'llama',
    headCount: 4,
    headCountKv: kvHeads,
    contextLength: CTX,
    ropePairing: pairing,
    attentionSoftCap: softCap,
  });
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

type Case = [
  string,
  'swiftshader' | 'lavapipe',
  'adjacent' | 'neox',
  boolean,
  number,
  number,
  number,
  PassWorkgroup,
];
/**
 * name, adapter, pairing, q/k norm, sliding window (0: none), attention soft-cap (0: none), KV
 * heads, RoPE and reduce threads per head and token (8: CPU-backed adapters', 64: GPUs')
 */
const cases: Case[] = [
  ['llama pairs', 'swiftshader', 'adjacent', false, 0, 0, 2, 64],
  ['NeoX halves with q/k norm, 4 heads per KV head', 'swiftshader', 'neox', true, 0, 0, 1, 8],
  ['a window of 3 and a soft-cap of 0.5', 'swiftshader', 'neox', true, 3, 0.5, 2, 64],
  ['llama pairs', 'lavapipe', 'adjacent', false, 0, 0, 2, 8],
  ['NeoX halves with q/k norm', 'lavapipe', 'neox', true, 0, 0, 2, 64],
  [
    'a window of 20 and a soft-cap of 0.5, 4 heads per KV head',
    'lavapipe',
    'neox',
    false,
    20,
    0.5,
    1,
    8,
  ],
];

/** Passes as [first position, tokens]: a prefill, a decode token, then positions 235..240 again. */
const PASSES = [
  [0, 240],
  [240, 1],
  [235, 6],
];

describe.each(cases)(
  'rope + attention: %s on %s',
  (_, adapter, pairing, qkNorm, window, cap, kvHeads, workgroup) => {
    it('matches the f64 reference; a decode token equals its position in a longer pass', async () => {
      const h = hparams(pairing, cap, kvHeads);
      expect(attentionSplit(CTX).positions).toBe(128);
      const { device } = await openTestDevice(adapter);
      const cache = new PipelineCache(device);
      const next = random(21);
      const width = qkvWidth(h);
      const norms = Float32Array.from({ length: 2 * h.keyLength }, () => 0.5 + next());
      const vecs = storageBuffer(device, norms);
      const rope = await cache.get(
        ropeKernel(h, { ...(qkNorm ? { qNormIndex: 0, kNormIndex: h.keyLength } : {}), workgroup }),
        'rope',
      );
      const kernels = attentionKernels(h, CTX, window, workgroup);
      const split = await cache.get(kernels.split);
      const reduce = await cache.get(kernels.reduce);
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
      /** Attention output of each position, by the pass that computed it last. */
      const outputs = new Map<number, Float32Array>();
      const run = async (k: Kernel, slices: BufferSlice[], x: number, y: number) => {
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        pass.setPipeline(k.pipeline);
        pass.setBindGroup(0, cache.bindGroup(k, slices));
        pass.dispatchWorkgroups(x, y);
        pass.end();
        device.queue.submit([encoder.finish()]);
      };
      const rows: Float32Array[] = [];
      for (const [pos0, ntok] of PASSES) {
        const qkvData = new Float32Array(ntok * width);
        for (let t = 0; t < ntok; t++) {
          rows[pos0 + t] ??= Float32Array.from({ length: width }, () => next() * 2 - 1);
          qkvData.set(rows[pos0 + t], t * width);
        }
        const qkv = storageBuffer(device, qkvData);
        const out = storageBuffer(device, ntok * h.headCount * h.valueLength * 4);
        poison(device, out);
        const splits = Math.ceil((pos0 + ntok) / kernels.splitPositions);
        const partials = storageBuffer(
          device,
          ntok * h.headCount * attentionSplit(CTX).count * (h.valueLength + 2) * 4,
        );
        poison(device, partials);
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
          split,
          [
            { buffer: step },
            { buffer: qkv },
            { buffer: kcache },
            { buffer: vcache },
            { buffer: partials },
          ],
          h.headCountKv * splits,
          ntok,
        );
        await run(
          reduce,
          [{ buffer: step }, { buffer: partials }, { buffer: out }],
          h.headCount,
          ntok,
        );
        const got = new Float32Array(await readBuffer(device, out));
        const headsWidth = h.headCount * h.valueLength;
        for (let t = 0; t < ntok; t++) {
          const mine = got.slice(t * headsWidth, (t + 1) * headsWidth);
          const earlier = outputs.get(pos0 + t);
          if (earlier)
            expect(Array.from(mine), `position ${pos0 + t} again`).toEqual(Array.from(earlier));
          outputs.set(pos0 + t, mine);
        }
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
  },
);
