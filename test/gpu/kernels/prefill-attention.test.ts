// The prefill attention kernels (flash-style, one thread per two queries, eight queries per
// subgroup) and the CPU-backed adapters' decode attention (one thread per head and split, or a KV
// head's query heads per subgroup, then the reduce pass) against an f64 reference: random queries and a random f16 KV cache holding earlier positions, output poisoned
// first, passes of 1, 7, 33 and 100 tokens (not multiples of the query tile) after 0 or 21 cached
// positions, GQA, a sliding window and a soft-cap, and tiles that do and do not fill the KV steps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDevice, poison, random, readBuffer, storageBuffer } from '../harness';
import {
  attentionTiles,
  prefillAttentionKernel,
  queryAttentionKernel,
  queryAttentionWorkgroups,
  querySplitWorkgroups,
  subgroupAttentionKernel,
  subgroupAttentionLanes,
  subgroupAttentionWorkgroups,
  subgroupDecodeAttentionKernel,
  subgroupDecodeWorkgroups,
  type AttentionTiles,
} from '../../../src/engine/gguf/kernels/prefill-attention';
import { attentionKernels } from '../../../src/engine/gguf/kernels/attention';
import { PipelineCache } from '../../../src/engine/gguf/kernels/pipeline';
import { attentionSplit, qkvWidth } from '../../../src/engine/gguf/buffer-plan';
import { f16BitsToF32, f32ToF16Bits } from '../../../src/engine/gguf/half';
import type { ModelHparams } from '../../../src/engine/gguf/types';
import { attentionHparams } from './attention-hparams';
import type { EngineDevice } from '../../../src/gpu/device';

const CTX = 128;
/** f32 scores, exponentials and sums over at most 128 positions. */
const TOLERANCE = 1e-4;

function hparams(head: number, softCap: number, group: number): ModelHparams {
  return attentionHparams({
    keyLength: head,
    contextLength: CTX,
    attentionSoftCap: softCap,
    headCount: 2 * group,
    headCountKv: 2,
  });
}

type Form = 'per-query' | 'per-subgroup' | 'per-query splits' | 'per-subgroup splits';

/**
 * name, head width, sliding window (0: none), soft-cap (0: none), the flash-style kernel's tiles
 * (default: chosen), 'per-query' for the kernel of one thread per two queries, 'per-subgroup' for
 * eight queries per subgroup (over the device's subgroup width), 'per-query splits' or
 * 'per-subgroup splits' for decode's split forms; then the query heads per KV head (3 unless given).
 */
type Case = [string, number, number, number, AttentionTiles | Form | undefined, number?];
const cases: Case[] = [
  ['heads of 64, tiles chosen for 16 KiB', 64, 0, 0, undefined],
  ['a window of 19 and a soft-cap of 0.5', 64, 19, 0.5, undefined],
  ['heads of 128 and 4 x 8 tiles', 128, 0, 0, { queries: 4, positions: 8 }],
  ['32 x 16 tiles', 64, 0, 0, { queries: 32, positions: 16 }],
  ['one thread per query, heads of 64', 64, 0, 0, 'per-query'],
  ['one thread per query, a window of 19 and a soft-cap of 0.5', 64, 19, 0.5, 'per-query'],
  ['one thread per query, heads of 128', 128, 0, 0, 'per-query'],
  ['eight queries per subgroup, heads of 64', 64, 0, 0, 'per-subgroup'],
  ['eight queries per subgroup, a window of 19 and a soft-cap of 0.5', 64, 19, 0.5, 'per-subgroup'],
  ['eight queries per subgroup, heads of 128', 128, 0, 0, 'per-subgroup'],
  // Decode on CPU-backed adapters: one thread per head and split, then the reduce pass.
  ['one thread per head and split, reduced', 64, 0, 0, 'per-query splits'],
  [
    'one thread per head and split, a window of 19 and a soft-cap of 0.5',
    64,
    19,
    0.5,
    'per-query splits',
  ],
  ["a KV head's query heads per subgroup, reduced", 64, 0, 0, 'per-subgroup splits'],
  [
    "a KV head's query heads per subgroup, a window of 19 and a soft-cap of 0.5",
    64,
    19,
    0.5,
    'per-subgroup splits',
  ],
  ["a KV head's query heads per subgroup, heads of 128", 128, 0, 0, 'per-subgroup splits'],
  ['one query head per KV head, per subgroup', 64, 0, 0, 'per-subgroup splits', 1],
  ['four query heads per KV head, per subgroup', 64, 0, 0, 'per-subgroup splits', 4],
];

describe.each(['swiftshader', 'lavapipe'] as const)('prefill attention on %s', (adapter) => {
  let ed: EngineDevice;
  let cache: PipelineCache;
  beforeAll(async () => {
    ed = await openTestDevice(adapter);
    cache = new PipelineCache(ed.device);
  });
  afterAll(() => ed.device.destroy());

  it.each(cases)('%s', async (_, head, window, cap, chosen, group = 3) => {
    const h = hparams(head, cap, group);
    const perQuery = chosen === 'per-query';
    const info = ed.adapterInfo as GPUAdapterInfo & {
      subgroupMinSize?: number;
      subgroupMaxSize?: number;
    };
    const lanes =
      chosen === 'per-subgroup' || chosen === 'per-subgroup splits'
        ? subgroupAttentionLanes(
            h,
            ed.device.features.has('subgroups'),
            info.subgroupMinSize,
            info.subgroupMaxSize,
          )
        : undefined;
    // Both adapters' subgroups fit the subgroup forms (SwiftShader's 4 lanes, lavapipe's 8).
    if (lanes !== undefined || chosen === 'per-subgroup') {
      expect(lanes).toBe(adapter === 'swiftshader' ? 4 : 8);
    }
    const splits =
      chosen === 'per-query splits' || chosen === 'per-subgroup splits'
        ? attentionSplit(CTX)
        : undefined;
    const grouped = chosen === 'per-subgroup splits';
    const tiles = typeof chosen === 'object' ? chosen : attentionTiles(h);
    const { device } = ed;
    const variant = grouped
      ? subgroupDecodeAttentionKernel(h, window, splits!, lanes!)
      : lanes
        ? subgroupAttentionKernel(h, window, lanes)
        : perQuery || splits
          ? queryAttentionKernel(h, window, splits)
          : prefillAttentionKernel(h, window, tiles);
    if (!variant) throw new Error(`no subgroup decode form for ${group} query heads per KV head`);
    const kernel = await cache.get(variant, 'prefill attention');
    const reduce = await cache.get(attentionKernels(h, CTX, window).reduce, 'attention reduce');
    const next = random(head + window);
    const { headCount: H, headCountKv: HKV } = h;
    const D = head;
    const kvValues = CTX * HKV * D;
    // The cache as the kernel reads it: f16 values; the reference reads the same rounded values.
    const keys = Float64Array.from({ length: kvValues }, () =>
      f16BitsToF32(f32ToF16Bits(next() * 2 - 1)),
    );
    const values = Float64Array.from({ length: kvValues }, () =>
      f16BitsToF32(f32ToF16Bits(next() * 2 - 1)),
    );
    const pack = (v: Float64Array) => {
      const words = new Uint16Array(v.length);
      v.forEach((x, i) => (words[i] = f32ToF16Bits(x)));
      return words;
    };
    const kcache = storageBuffer(device, pack(keys));
    const vcache = storageBuffer(device, pack(values));
    const step = device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const width = qkvWidth(h);
    for (const [pos0, ntok] of [
      [0, 1],
      [0, 7],
      [21, 33],
      [0, 100],
      [21, 100],
    ]) {
      // Queries 4x larger than keys, so the softmax is far from uniform.
      const qkvData = Float32Array.from({ length: ntok * width }, () => (next() * 2 - 1) * 4);
      const qkv = storageBuffer(device, qkvData);
      const out = storageBuffer(device, ntok * H * D * 4);
      poison(device, out);
      device.queue.writeBuffer(step, 0, new Uint32Array([ntok, pos0, 0, 0]));
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(kernel.pipeline);
      // The split form writes partials (poisoned too), which the reduce pass combines into out.
      const partials = splits && storageBuffer(device, ntok * H * splits.count * (D + 2) * 4);
      if (partials) poison(device, partials);
      pass.setBindGroup(
        0,
        cache.bindGroup(kernel, [
          { buffer: step },
          { buffer: qkv },
          { buffer: kcache },
          { buffer: vcache },
          { buffer: partials ?? out },
        ]),
      );
      const splitCount = splits && Math.ceil((pos0 + ntok) / splits.positions);
      const [x, y] = grouped
        ? subgroupDecodeWorkgroups(h, ntok, splitCount!)
        : splits
          ? querySplitWorkgroups(h, ntok, splitCount!)
          : lanes
            ? subgroupAttentionWorkgroups(h, ntok, lanes)
            : perQuery
              ? queryAttentionWorkgroups(h, ntok)
              : [H, Math.ceil(ntok / tiles.queries)];
      pass.dispatchWorkgroups(x, y);
      if (partials) {
        pass.setPipeline(reduce.pipeline);
        pass.setBindGroup(
          0,
          cache.bindGroup(reduce, [{ buffer: step }, { buffer: partials }, { buffer: out }]),
        );
        pass.dispatchWorkgroups(H, ntok);
      }
      pass.end();
      device.queue.submit([encoder.finish()]);
      const got = new Float32Array(await readBuffer(device, out));
      qkv.destroy();
      out.destroy();
      // The worst error of the pass, asserted once (an assertion per value costs more than the
      // reference itself).
      let worst = { error: 0, where: '' };
      for (let t = 0; t < ntok; t++) {
        const p = pos0 + t;
        const first = window > 0 ? Math.max(0, p + 1 - window) : 0;
        for (let hq = 0; hq < H; hq++) {
          const kh = Math.floor(hq / (H / HKV));
          const q = qkvData.subarray(t * width + hq * D, t * width + (hq + 1) * D);
          const weights: number[] = [];
          for (let j = first; j <= p; j++) {
            let s = 0;
            for (let d = 0; d < D; d++) s += q[d] * keys[(j * HKV + kh) * D + d];
            s /= Math.sqrt(D);
            weights.push(cap > 0 ? cap * Math.tanh(s / cap) : s);
          }
          const max = Math.max(...weights);
          let sum = 0;
          weights.forEach((s, i) => (sum += weights[i] = Math.exp(s - max)));
          for (let d = 0; d < D; d++) {
            let ref = 0;
            let scale = 0;
            for (let i = 0; i < weights.length; i++) {
              const v = values[((first + i) * HKV + kh) * D + d];
              ref += (weights[i] / sum) * v;
              scale += (weights[i] / sum) * Math.abs(v);
            }
            const error = Math.abs(got[t * H * D + hq * D + d] - ref) / scale;
            // NaN (a poisoned value left in place) counts as worst and stays.
            if (!Number.isNaN(worst.error) && !(error <= worst.error)) {
              worst = { error, where: `token ${t} head ${hq} value ${d}` };
            }
          }
        }
      }
      expect(worst.error, `pos0 ${pos0}, ${ntok} tokens: worst at ${worst.where}`).toBeLessThan(
        TOLERANCE,
      );
    }
  });
});

describe('the subgroup decode form', () => {
  it('holds at most four query heads per KV head', () => {
    const split = attentionSplit(CTX);
    expect(subgroupDecodeAttentionKernel(hparams(64, 0, 4), 0, split, 8)).toBeDefined();
    expect(subgroupDecodeAttentionKernel(hparams(64, 0, 5), 0, split, 8)).toBeUndefined();
    // Heads of 32 do not split into vectors of eight values over eight lanes.
    expect(subgroupDecodeAttentionKernel(hparams(32, 0, 3), 0, split, 8)).toBeUndefined();
  });
});
