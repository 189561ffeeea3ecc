// The passes that write a product's 8-bit input themselves (the RMSNorm before q/k/v, gate/up and
// the output layer; the decode attention's reduce before the output projection) against the
// quantize pass run over their own f32 output: the same words bit for bit, every token of a pass
// or the last alone, other slots left poisoned. (The quantize pass itself is checked against
// llama.cpp's quantization in q8-input.test.ts.)
import { describe, expect, it } from 'vitest';
import { suiteDevice } from '../suite-device';
import { poison, POISON_BITS, random, readBuffer, storageBuffer } from '../harness';
import { rmsNormKernel } from '../../../src/engine/gguf/kernels/rms-norm';
import { attentionKernels } from '../../../src/engine/gguf/kernels/attention';
import {
  quantizeInputKernel,
  quantizeInputWorkgroups,
  quantizedInputQuants,
  quantizedInputWords,
} from '../../../src/engine/gguf/kernels/quantize-input';
import type { KernelVariant } from '../../../src/engine/gguf/kernels/pipeline';
import { attentionSplit } from '../../../src/engine/gguf/buffer-plan';
import type { ModelHparams } from '../../../src/engine/gguf/types';
import { attentionHparams } from './attention-hparams';

const E = 320;
const NORM_AT = 8;
const CAPACITY = 5;
const CTX = 4096;

function hparams(valueLength: number): ModelHparams {
  return attentionHparams({ keyLength: valueLength, embeddingLength: E, contextLength: CTX });
}

describe.each(['swiftshader', 'lavapipe'] as const)(
  'passes writing 8-bit inputs on %s',
  (adapter) => {
    const suite = suiteDevice(adapter);

    /** Runs `variant` once over `inputs` and an output of `bytes`, poisoned first: its contents. */
    async function run(
      variant: KernelVariant,
      step: [number, number],
      inputs: GPUBuffer[],
      bytes: number,
      grid: [number, number],
    ): Promise<Uint32Array> {
      const device = suite.ed.device;
      const kernel = await suite.cache.get(variant);
      const stepBuffer = device.createBuffer({
        size: 16,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      device.queue.writeBuffer(stepBuffer, 0, new Uint32Array([...step, 0, 0]));
      const out = storageBuffer(device, bytes);
      poison(device, out);
      const buffers = [stepBuffer, ...inputs, out];
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(kernel.pipeline);
      pass.setBindGroup(
        0,
        suite.cache.bindGroup(
          kernel,
          buffers.map((buffer) => ({ buffer })),
        ),
      );
      pass.dispatchWorkgroups(...grid);
      pass.end();
      device.queue.submit([encoder.finish()]);
      const words = new Uint32Array(await readBuffer(device, out));
      for (const b of [stepBuffer, out]) b.destroy();
      return words;
    }

    /** Whether tokens [first, end) of 8-bit inputs of `length` values hold no poison. */
    function written(words: Uint32Array, length: number, first: number, end: number): boolean {
      const stride = quantizedInputWords(length);
      for (let t = first; t < end; t++) {
        const used = words.subarray(
          t * stride,
          t * stride + quantizedInputQuants(length) + length / 32,
        );
        if (used.some((w) => w === POISON_BITS)) return false;
      }
      return true;
    }

    /** The quantize pass over `x` (tokens `length` values apart): the words it writes. */
    function quantize(x: GPUBuffer, length: number, ntok: number, lastToken: boolean) {
      return run(
        quantizeInputKernel({ length, stride: length, lastToken }),
        [ntok, 0],
        [x],
        CAPACITY * quantizedInputWords(length) * 4,
        [quantizeInputWorkgroups(length), lastToken ? 1 : ntok],
      );
    }

    it.each([
      [false, 64],
      [true, 64],
      [false, 8],
      [true, 8],
    ] as const)(
      'the RMSNorm pass writes the quantize pass bits over its f32 output (last token only: %s, %i threads per token)',
      async (lastToken, workgroup) => {
        const device = suite.ed.device;
        const ntok = 4;
        const next = random(lastToken ? 3 : 2);
        const x = storageBuffer(
          device,
          Float32Array.from(
            { length: CAPACITY * E },
            () => (next() * 6 - 3) * (next() < 0.1 ? 9 : 1),
          ),
        );
        const vecs = storageBuffer(
          device,
          Float32Array.from({ length: NORM_AT + E }, () => next() * 2 - 0.5),
        );
        const spec = { length: E, normIndex: NORM_AT, eps: 1e-5, lastToken, workgroup };
        const grid: [number, number] = [1, lastToken ? 1 : ntok];
        const normed = storageBuffer(device, CAPACITY * E * 4);
        const f32 = await run(rmsNormKernel(spec), [ntok, 0], [x, vecs], CAPACITY * E * 4, grid);
        device.queue.writeBuffer(normed, 0, f32);
        const expected = await quantize(normed, E, ntok, lastToken);
        const fused = await run(
          rmsNormKernel({ ...spec, quantize: true }),
          [ntok, 0],
          [x, vecs],
          CAPACITY * quantizedInputWords(E) * 4,
          grid,
        );
        expect(Array.from(fused)).toEqual(Array.from(expected));
        // The written slots hold quants and scales (not the poison the others keep).
        expect(written(fused, E, lastToken ? ntok - 1 : 0, ntok)).toBe(true);
        for (const b of [x, vecs, normed]) b.destroy();
      },
    );

    it.each([
      [32, 64],
      [64, 64],
      [128, 64],
      [64, 8],
      [128, 8],
    ] as const)(
      'the attention reduce writes the quantize pass bits over its f32 output (heads of %i, %i threads)',
      async (valueLength, workgroup) => {
        const device = suite.ed.device;
        const h = hparams(valueLength);
        const kernels = attentionKernels(h, CTX, 0, workgroup);
        expect(kernels.reduceQ8).toBeDefined();
        const { count, positions } = attentionSplit(CTX);
        const H = h.headCount;
        const width = H * valueLength;
        const partial = valueLength + 2;
        const next = random(valueLength);
        // Each partial: weighted value sums, its max score and its weight total (positive).
        const partials = Float32Array.from({ length: CAPACITY * H * count * partial }, (_, i) => {
          const at = i % partial;
          if (at === valueLength) return next() * 6 - 3;
          if (at === valueLength + 1) return 0.5 + next() * 4;
          return (next() * 4 - 2) * (next() < 0.05 ? 20 : 1);
        });
        const input = storageBuffer(device, partials);
        // Three tokens whose contexts span several splits.
        const ntok = 3;
        const step: [number, number] = [ntok, positions * 2 + 5];
        const f32 = await run(kernels.reduce, step, [input], CAPACITY * width * 4, [H, ntok]);
        const values = storageBuffer(device, f32.byteLength);
        device.queue.writeBuffer(values, 0, f32);
        const expected = await quantize(values, width, ntok, false);
        const fused = await run(
          kernels.reduceQ8!,
          step,
          [input],
          CAPACITY * quantizedInputWords(width) * 4,
          [H, ntok],
        );
        expect(Array.from(fused)).toEqual(Array.from(expected));
        expect(written(fused, width, 0, ntok)).toBe(true);
        for (const b of [input, values]) b.destroy();
      },
    );

    it('has no fused reduce where a value head is not a whole number of blocks', () => {
      expect(attentionKernels(hparams(80), CTX, 0).reduceQ8).toBeUndefined();
    });
  },
);
