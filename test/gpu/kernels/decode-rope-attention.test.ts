// The subgroup decode attention doing the rope pass's work (one-token passes on CPU-backed
// adapters): against the rope pass followed by the same attention without it, bit for bit, both
// the reduced output and the KV cache it writes (the token's rotated key and its value), for
// adjacent and NEOX pairs, a layer without RoPE, a sliding window, positions in the first split
// and past it, over random queries, keys and caches with every output poisoned first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDevice, poison, random, readBuffer, storageBuffer } from '../harness';
import {
  subgroupAttentionLanes,
  subgroupDecodeAttentionKernel,
  subgroupDecodeWorkgroups,
} from '../../../src/engine/gguf/kernels/prefill-attention';
import { attentionKernels } from '../../../src/engine/gguf/kernels/attention';
import { ropeKernel, ropeTable } from '../../../src/engine/gguf/kernels/fixed';
import { PipelineCache, type Kernel } from '../../../src/engine/gguf/kernels/pipeline';
import { attentionSplit, qkvWidth } from '../../../src/engine/gguf/buffer-plan';
import { f32ToF16Bits } from '../../../src/engine/gguf/half';
import { deviceSubgroups } from '../../../src/gpu/probe';
import { attentionHparams } from './attention-hparams';
import type { EngineDevice } from '../../../src/gpu/device';

const CTX = 160;

/** name, head width, NEOX pairs, no RoPE (a skipped layer), sliding window (0: none). */
const cases: [string, number, boolean, boolean, number][] = [
  ['adjacent pairs, heads of 64', 64, false, false, 0],
  ['NEOX pairs, heads of 64', 64, true, false, 0],
  ['NEOX pairs, heads of 128, a window of 19', 128, true, false, 19],
  ['adjacent pairs, heads of 128', 128, false, false, 0],
  ['a layer without RoPE', 64, false, true, 0],
];

describe.each(['swiftshader', 'lavapipe'] as const)(
  'decode attention with RoPE on %s',
  (adapter) => {
    let ed: EngineDevice;
    let cache: PipelineCache;
    beforeAll(async () => {
      ed = await openTestDevice(adapter, { disableF16: true });
      cache = new PipelineCache(ed.device);
    });
    afterAll(() => ed.device.destroy());

    it.each(cases)('%s', async (_, head, neox, noRope, window) => {
      const h = attentionHparams({
        keyLength: head,
        contextLength: CTX,
        ropePairing: neox ? 'neox' : 'adjacent',
      });
      const { device } = ed;
      const subgroups = deviceSubgroups(device);
      const lanes = subgroupAttentionLanes(h, subgroups.enabled, subgroups.min, subgroups.max)!;
      expect(lanes).toBe(adapter === 'swiftshader' ? 4 : 8);
      const split = attentionSplit(CTX);
      const fused = await cache.get(
        subgroupDecodeAttentionKernel(h, window, split, lanes, {
          pairs: noRope ? 0 : head / 2,
          neox,
        })!,
      );
      const plain = await cache.get(subgroupDecodeAttentionKernel(h, window, split, lanes)!);
      const rope = await cache.get(ropeKernel(h, { noRope, workgroup: 8 }));
      const reduce = await cache.get(attentionKernels(h, CTX, window, 8).reduce);
      const next = random(head * 7 + (neox ? 1 : 0) + window);
      const width = qkvWidth(h);
      const kvWords = (CTX * h.headCountKv * head) / 2;
      const cacheWords = Uint32Array.from(
        { length: kvWords },
        () => f32ToF16Bits(next() * 2 - 1) | (f32ToF16Bits(next() * 2 - 1) << 16),
      );
      const table = storageBuffer(device, ropeTable(h, CTX));
      const vecs = storageBuffer(device, new Float32Array(4));
      const step = device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      const partialWords = h.headCount * split.count * (head + 2);
      const group = (k: Kernel, buffers: GPUBuffer[]) =>
        cache.bindGroup(
          k,
          buffers.map((buffer) => ({ buffer })),
        );
      for (const pos0 of [0, 5, 70, CTX - 1]) {
        const qkvData = Float32Array.from({ length: width }, () => (next() * 2 - 1) * 4);
        device.queue.writeBuffer(step, 0, new Uint32Array([1, pos0, 0, 0]));
        const run = async (withRope: boolean) => {
          const qkv = storageBuffer(device, qkvData);
          const kcache = storageBuffer(device, cacheWords);
          const vcache = storageBuffer(device, cacheWords);
          const partials = storageBuffer(device, partialWords * 4);
          const out = storageBuffer(device, h.headCount * head * 4);
          poison(device, partials);
          poison(device, out);
          const encoder = device.createCommandEncoder();
          const pass = encoder.beginComputePass();
          const splits = Math.ceil((pos0 + 1) / split.positions);
          if (withRope) {
            pass.setPipeline(fused.pipeline);
            pass.setBindGroup(0, group(fused, [step, qkv, kcache, vcache, partials, table]));
          } else {
            pass.setPipeline(rope.pipeline);
            pass.setBindGroup(0, group(rope, [step, qkv, vecs, table, kcache, vcache]));
            pass.dispatchWorkgroups(h.headCount + 2 * h.headCountKv, 1);
            pass.setPipeline(plain.pipeline);
            pass.setBindGroup(0, group(plain, [step, qkv, kcache, vcache, partials]));
          }
          pass.dispatchWorkgroups(...subgroupDecodeWorkgroups(h, 1, splits));
          pass.setPipeline(reduce.pipeline);
          pass.setBindGroup(0, group(reduce, [step, partials, out]));
          pass.dispatchWorkgroups(h.headCount, 1);
          pass.end();
          device.queue.submit([encoder.finish()]);
          const result = {
            out: new Uint32Array(await readBuffer(device, out)),
            k: new Uint32Array(await readBuffer(device, kcache)),
            v: new Uint32Array(await readBuffer(device, vcache)),
          };
          for (const b of [qkv, kcache, vcache, partials, out]) b.destroy();
          return result;
        };
        const separate = await run(false);
        const together = await run(true);
        // The token's key and value were written (the caches differ from what they held).
        const row = (pos0 * h.headCountKv * head) / 2;
        expect(separate.k.subarray(row, row + 8)).not.toEqual(cacheWords.subarray(row, row + 8));
        expect(together.k).toEqual(separate.k);
        expect(together.v).toEqual(separate.v);
        expect(together.out).toEqual(separate.out);
        expect(Array.from(new Float32Array(together.out.buffer)).every(Number.isFinite)).toBe(true);
      }
    });
  },
);
