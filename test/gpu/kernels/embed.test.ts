// Token embedding lookup from a row-split table, for every weight type, against the f64
// dequantization of the file's bytes.
import { describe, expect, it } from 'vitest';
import { openTestDevice, poison, readBuffer, storageBuffer } from '../harness';
import { embedKernel } from '../../../src/engine/gguf/kernels/embed';
import { weightParts } from '../../../src/engine/gguf/kernels/dequant';
import { PipelineCache } from '../../../src/engine/gguf/kernels/pipeline';
import { GGMLType, typeName } from '../../../src/engine/gguf/types';
import { memoryGroup } from '../reference/memory-group';

const EMBD = 256;
const VOCAB = 40;
const TYPES = [
  GGMLType.F32,
  GGMLType.F16,
  GGMLType.BF16,
  GGMLType.Q8_0,
  GGMLType.Q4_0,
  GGMLType.Q5_0,
  GGMLType.Q4_K,
  GGMLType.Q5_K,
  GGMLType.Q6_K,
  GGMLType.Q4_1,
  GGMLType.Q5_1,
  GGMLType.Q2_K,
  GGMLType.Q3_K,
  GGMLType.IQ4_NL,
  GGMLType.IQ4_XS,
];

describe.each(['swiftshader', 'lavapipe'] as const)('embedding lookup on %s', (adapter) => {
  it('gathers dequantized rows of every type from a table split in parts, Q8_0 also in row groups', async () => {
    const { device } = await openTestDevice(adapter, { disableF16: true });
    const cache = new PipelineCache(device);
    const tokens = [5, 0, 39, 12, 17];
    // Every type row after row, and Q8_0 with its rows interleaved per group of 8 as laid out
    // for CPU-backed adapters.
    const layouts: [GGMLType, boolean][] = [
      ...TYPES.map((type): [GGMLType, boolean] => [type, false]),
      [GGMLType.Q8_0, true],
    ];
    for (const [i, [type, rowGroups]] of layouts.entries()) {
      const tensor = { name: 'token_embd.weight', type, dims: [EMBD, VOCAB] };
      const probe = await memoryGroup([tensor], 40 + i);
      const rowBytes = probe.layout.matrices.get(tensor.name)!.rowBytes;
      const group = await memoryGroup([tensor], 40 + i, rowBytes * 16, rowGroups);
      const m = group.layout.matrices.get(tensor.name)!;
      expect(m.parts).toHaveLength(3);
      expect(m.rowGroup).toBe(rowGroups ? 8 : 1);
      const kernel = await cache.get(embedKernel('f32', weightParts(m), EMBD, VOCAB), 'embed');
      const weights = storageBuffer(device, group.image);
      const step = device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      device.queue.writeBuffer(step, 0, new Uint32Array([tokens.length, 0, 0, 0]));
      const out = storageBuffer(device, tokens.length * EMBD * 4);
      poison(device, out);
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(kernel.pipeline);
      pass.setBindGroup(
        0,
        cache.bindGroup(kernel, [
          { buffer: step },
          { buffer: storageBuffer(device, new Uint32Array(tokens)) },
          { buffer: out },
          ...m.parts.map((p) => ({ buffer: weights, offset: p.offset, size: p.bytes })),
        ]),
      );
      pass.dispatchWorkgroups(tokens.length);
      pass.end();
      device.queue.submit([encoder.finish()]);
      const got = new Float32Array(await readBuffer(device, out));
      const values = group.values.get(tensor.name)!;
      tokens.forEach((id, t) => {
        for (let k = 0; k < EMBD; k++) {
          const expected = values[id * EMBD + k];
          expect(
            Math.abs(got[t * EMBD + k] - expected),
            `${typeName(type)}${rowGroups ? ' in row groups' : ''} token ${id} value ${k}`,
          ).toBeLessThanOrEqual(1e-6 * Math.max(1e-3, Math.abs(expected)));
        }
      });
    }
    device.destroy();
  });
});
