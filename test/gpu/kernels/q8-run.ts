// What the 8-bit-input tests share (q8-input.test.ts: Q8_0 inputs, q8k-input.test.ts: Q8_K): random
// inputs with outliers, the quantize pass run on them, q/k/v and gated FFN products checked
// against the f64 reference of the quantized input.
import { expect } from 'vitest';
import { poison, random, readBuffer, storageBuffer } from '../harness';
import { GGMLType } from '../../../src/engine/gguf/types';
import type { MatmulSpec } from '../../../src/engine/gguf/kernels/matmul';
import {
  CPU_GEMM_TILES,
  SHARED_WEIGHT_TILES,
  type GemmTiles,
} from '../../../src/engine/gguf/kernels/gemm';
import {
  quantizeInputKernel,
  quantizeInputWorkgroups,
  quantizedInputWords,
  type InputFormat,
} from '../../../src/engine/gguf/kernels/quantize-input';
import type { PipelineCache } from '../../../src/engine/gguf/kernels/pipeline';
import { memoryGroup, type MemoryGroup } from '../reference/memory-group';
import { roundActivations } from '../reference/dequant';
import { productSegments, referenceDot, runProduct } from './product-run';

/**
 * The integer dot products are exact; what is left is an f32 sum of scaled terms per block of 32
 * (and SwiGLU's f32 exp): measured below 1e-6 on both adapters.
 */
export const Q8_TOLERANCE = 1e-5;

/** Values in [-2, 2), one in ten of them eight times that (the outliers that set block scales). */
export function randomInput(length: number, seed: number): Float32Array {
  const next = random(seed);
  return Float32Array.from({ length }, () => (next() * 4 - 2) * (next() < 0.1 ? 8 : 1));
}

/**
 * Token t of x (tokens of `length` values) as llama.cpp quantizes the input of a product over
 * weights taking `format` (f64, exact values).
 */
export function quantizedToken(
  x: Float32Array,
  t: number,
  length: number,
  format: InputFormat,
): Float64Array {
  const weights = format === 'q8_k' ? GGMLType.Q4_K : GGMLType.Q8_0;
  return roundActivations(weights, Float64Array.from(x.subarray(t * length, (t + 1) * length)));
}

/** Runs the quantize pass over `ntok` tokens of x (or the last alone): the words it writes. */
export async function quantizeInput(
  device: GPUDevice,
  cache: PipelineCache,
  x: Float32Array,
  ntok: number,
  {
    length,
    format,
    lastToken = false,
  }: { length: number; format: InputFormat; lastToken?: boolean },
): Promise<Uint32Array> {
  const kernel = await cache.get(
    quantizeInputKernel({ length, stride: length, lastToken, format }),
  );
  const step = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(step, 0, new Uint32Array([ntok, 0, 0, 0]));
  const input = storageBuffer(device, x);
  const xq = storageBuffer(device, ntok * quantizedInputWords(length, format) * 4);
  poison(device, xq);
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(
    0,
    cache.bindGroup(kernel, [{ buffer: step }, { buffer: input }, { buffer: xq }]),
  );
  pass.dispatchWorkgroups(quantizeInputWorkgroups(length, format), lastToken ? 1 : ntok);
  pass.end();
  device.queue.submit([encoder.finish()]);
  const words = new Uint32Array(await readBuffer(device, xq));
  for (const b of [step, input, xq]) b.destroy();
  return words;
}

/** Rows of the q/k/v products the tests run. */
export const QKV_ROWS = { q: 70, k: 12, v: 29 };
/** Output floats per token of the q/k/v product: its rows, then 3 that must keep their poison. */
export const QKV_STRIDE = QKV_ROWS.q + QKV_ROWS.k + QKV_ROWS.v + 3;

/**
 * q, k and v of `types` over inputs of `length` values (v split across two bindings, k and v with
 * biases).
 */
export async function qkvGroup(
  types: Record<'q' | 'k' | 'v', GGMLType>,
  length: number,
  seed: number,
): Promise<MemoryGroup> {
  const tensors = [
    { name: 'k.bias', type: GGMLType.F32, dims: [QKV_ROWS.k] },
    { name: 'v.bias', type: GGMLType.F32, dims: [QKV_ROWS.v] },
    ...(['q', 'k', 'v'] as const).map((name) => ({
      name,
      type: types[name],
      dims: [length, QKV_ROWS[name]],
    })),
  ];
  const probe = await memoryGroup(tensors, seed);
  const group = await memoryGroup(tensors, seed, probe.layout.matrices.get('v')!.rowBytes * 20);
  expect(group.layout.matrices.get('v')!.parts.length).toBe(2);
  return group;
}

/** A plain product over `names` of `group` with 8-bit inputs of `length` values, and `extra`. */
export function q8Spec(
  group: MemoryGroup,
  names: string[],
  length: number,
  extra: Partial<MatmulSpec> = {},
): MatmulSpec {
  return {
    precision: 'f32',
    inputLength: length,
    inputStride: length,
    outputStride: QKV_STRIDE,
    mode: 'plain',
    segments: productSegments(group, names),
    q8Input: true,
    ...extra,
  };
}

/**
 * The worst relative error of the q/k/v product's output y (tokens `QKV_STRIDE` apart, token i of
 * y being token tokens[i] of x) against the reference, and whether the columns past the rows
 * kept their poison.
 */
export function compareQkv(
  group: MemoryGroup,
  x: Float32Array,
  y: Float32Array,
  tokens: number[],
  length: number,
  format: InputFormat,
): { worst: number; untouched: boolean } {
  let worst = 0;
  let untouched = true;
  for (const [i, t] of tokens.entries()) {
    const xt = quantizedToken(x, t, length, format);
    let column = 0;
    for (const name of ['q', 'k', 'v'] as const) {
      const bias = group.values.get(`${name}.bias`);
      for (let r = 0; r < QKV_ROWS[name]; r++) {
        const [ref, abs] = referenceDot(group, name, xt, r, length);
        const got = y[i * QKV_STRIDE + column + r];
        const error = Math.abs(got - ref - (bias ? bias[r] : 0)) / (abs + 1e-30);
        worst = Number.isNaN(error) ? NaN : Math.max(worst, error);
      }
      column += QKV_ROWS[name];
    }
    for (let c = column; c < QKV_STRIDE; c++) untouched &&= Number.isNaN(y[i * QKV_STRIDE + c]);
  }
  return { worst, untouched };
}

/** A product form: its name, the spec's knobs and, for the GEMM, its tiles. */
export type ProductForm = [string, Partial<MatmulSpec>, GemmTiles | undefined];

/**
 * SwiGLU over a fused gate/up tensor of `gateUp` weights and the residual add over `down` weights,
 * 45 rows each, over 9 tokens of 8-bit inputs of `length` values, in each form: each form's worst
 * error against the f64 reference stays below Q8_TOLERANCE.
 */
export async function checkGatedProducts(
  device: GPUDevice,
  cache: PipelineCache,
  {
    length,
    format,
    gateUp,
    down,
  }: {
    length: number;
    format: InputFormat;
    gateUp: GGMLType;
    down: GGMLType;
  },
  forms: ProductForm[],
): Promise<void> {
  const ff = 45;
  const ntok = 9;
  const group = await memoryGroup(
    [
      { name: 'gate_up', type: gateUp, dims: [length, 2 * ff] },
      { name: 'down', type: down, dims: [length, ff] },
    ],
    2,
  );
  const x = randomInput(ntok * length, 44);
  const xq = await quantizeInput(device, cache, x, ntok, { length, format });
  const whole = productSegments(group, ['gate_up'])[0];
  const gated: MatmulSpec = {
    precision: 'f32',
    inputLength: length,
    inputStride: length,
    outputStride: ff,
    mode: 'swiglu',
    segments: [
      { ...whole, rows: ff },
      { ...whole, rows: ff, rowOffset: ff },
    ],
    q8Input: true,
  };
  const residual: MatmulSpec = {
    ...gated,
    mode: 'residual',
    segments: productSegments(group, ['down']),
  };
  const y0 = Float32Array.from({ length: ntok * ff }, (_, i) => Math.sin(i));
  for (const [form, variant, gemm] of forms) {
    const common = { group, input: xq, ntok, outLength: ntok * ff, gemm };
    const swiglu = await runProduct(device, cache, {
      ...common,
      spec: { ...gated, ...variant },
      bound: ['gate_up', 'gate_up'],
    });
    const added = await runProduct(device, cache, {
      ...common,
      spec: { ...residual, ...variant },
      bound: ['down'],
      y0,
    });
    let worst = 0;
    for (let t = 0; t < ntok; t++) {
      const xt = quantizedToken(x, t, length, format);
      for (let r = 0; r < ff; r++) {
        const [g, ga] = referenceDot(group, 'gate_up', xt, r, length);
        const [u, ua] = referenceDot(group, 'gate_up', xt, ff + r, length);
        const silu = g / (1 + Math.exp(-g));
        const bound = 1.1 * ga * Math.abs(u) + ua * Math.abs(silu) + 1e-30;
        worst = Math.max(worst, Math.abs(swiglu[t * ff + r] - silu * u) / bound);
        const [d, da] = referenceDot(group, 'down', xt, r, length);
        const i = t * ff + r;
        worst = Math.max(worst, Math.abs(added[i] - y0[i] - d) / (da + Math.abs(y0[i])));
        if (Number.isNaN(swiglu[i]) || Number.isNaN(added[i])) worst = NaN;
      }
    }
    expect(worst, form).toBeLessThan(Q8_TOLERANCE);
  }
}

/**
 * q, k and v of `types` (v split) over 5 tokens of 8-bit inputs of `length` values in every form
 * that reads them: the one-token body (with the input shared over each of `sharedForms` lanes,
 * with four rows per thread, with four lanes per row), the last token alone, the 4-token body and
 * the unstaged GEMM (each thread reading its rows, and the weights shared over each of
 * `sharedForms` lanes), each against the f64 reference of the quantized input with its poison kept;
 * the forms of one lane per row give token 0 the same bits.
 */
export async function checkQkvForms(
  device: GPUDevice,
  cache: PipelineCache,
  { length, format }: { length: number; format: InputFormat },
  types: Record<'q' | 'k' | 'v', GGMLType>,
  sharedForms: readonly number[],
): Promise<void> {
  const group = await qkvGroup(types, length, 21);
  const ntok = 5;
  const x = randomInput(ntok * length, 23);
  const xq = await quantizeInput(device, cache, x, ntok, { length, format });
  const run = (extra: Partial<MatmulSpec>, tokens: number, gemm?: GemmTiles) =>
    runProduct(device, cache, {
      spec: q8Spec(group, ['q', 'k', 'v'], length, extra),
      bound: ['q', 'k', 'v'],
      group,
      input: xq,
      ntok: tokens,
      outLength: tokens * QKV_STRIDE,
      gemm,
    });
  const one = { tokens: 1, lanesPerRow: 1, workgroupSize: 64, rowsPerThread: 1 } as const;
  const all = [0, 1, 2, 3, 4];
  const forms: [string, Float32Array, number[]][] = [['one-token body', await run(one, 1), [0]]];
  for (const sharedInput of sharedForms) {
    const y = await run({ ...one, sharedInput: sharedInput as 4 | 8 }, 1);
    forms.push([`input shared over ${sharedInput} lanes`, y, [0]]);
  }
  forms.push(
    ['4 rows per thread', await run({ ...one, workgroupSize: 16, rowsPerThread: 4 }, 1), [0]],
    ['4 lanes per row', await run({ ...one, lanesPerRow: 4 }, 1), [0]],
    ['the last token', await run({ ...one, lastTokenOnly: true }, ntok), [ntok - 1]],
    ['4-token body', await run({ tokens: 4, lanesPerRow: 1 }, ntok), all],
    ['unstaged GEMM', await run({}, ntok, CPU_GEMM_TILES), all],
  );
  for (const lanes of sharedForms) {
    const y = await run({}, ntok, SHARED_WEIGHT_TILES[lanes as 4 | 8]);
    forms.push([`GEMM, weights shared over ${lanes} lanes`, y, all]);
  }
  for (const [form, y, tokens] of forms) {
    const { worst, untouched } = compareQkv(group, x, y, tokens, length, format);
    expect(worst, form).toBeLessThan(Q8_TOLERANCE);
    expect(untouched, form).toBe(true);
  }
  // Sums in the same order, the same bits (several lanes per row meet in another order).
  const decoded = Array.from(forms[0][1].subarray(0, QKV_STRIDE));
  for (const [form, y, tokens] of forms) {
    if (tokens[0] === 0 && form !== '4 lanes per row') {
      expect(Array.from(y.subarray(0, QKV_STRIDE)), form).toEqual(decoded);
    }
  }
}
