// Q8_K inputs: the quantize pass against llama.cpp's quantize_row_q8_K (quants, scales, block
// sums), and the products over Q3_K, Q4_K, Q5_K and Q6_K weights that read it (matrix-vector bodies,
// the input shared per subgroup, the unstaged GEMM) against an f64 reference of the quantized
// input, outputs poisoned first; a decoded token's products equal a prefilled one's bit for bit.
import { describe, expect, it } from 'vitest';
import { suiteDevice } from '../suite-device';
import { poison, POISON_BITS, random, readBuffer, storageBuffer } from '../harness';
import { GGMLType, typeName } from '../../../src/engine/gguf/types';
import { matmulKernel, type MatmulSpec } from '../../../src/engine/gguf/kernels/matmul';
import { CPU_GEMM_TILES, type GemmTiles } from '../../../src/engine/gguf/kernels/gemm';
import {
  quantizeInputKernel,
  quantizeInputWorkgroups,
  quantizedInputQuants,
  quantizedInputWords,
} from '../../../src/engine/gguf/kernels/quantize-input';
import { takesQ8Input } from '../../../src/engine/gguf/kernels/dequant';
import type { PipelineCache } from '../../../src/engine/gguf/kernels/pipeline';
import { memoryGroup, type MemoryGroup } from '../reference/memory-group';
import { roundActivations } from '../reference/dequant';
import { productSegments, referenceDot, runProduct } from './product-run';

const K = 512;
/**
 * The integer dot products are exact; what is left is an f32 sum of scaled terms per block of 32
 * (and SwiGLU's f32 exp), as in the Q8_0 tests.
 */
const TOLERANCE = 1e-5;

function randomX(length: number, seed: number): Float32Array {
  const next = random(seed);
  return Float32Array.from({ length }, () => (next() * 4 - 2) * (next() < 0.1 ? 8 : 1));
}

/** Token t of x as llama.cpp quantizes a K-quant product's input (f64, exact values). */
function quantized(x: Float32Array, t: number): Float64Array {
  return roundActivations(GGMLType.Q4_K, Float64Array.from(x.subarray(t * K, (t + 1) * K)));
}

/** Runs the Q8_K quantize pass over `ntok` tokens of x (or the last alone): the words it writes. */
async function quantize(
  device: GPUDevice,
  cache: PipelineCache,
  x: Float32Array,
  ntok: number,
  lastToken = false,
): Promise<Uint32Array> {
  const kernel = await cache.get(
    quantizeInputKernel({ length: K, stride: K, lastToken, format: 'q8_k' }),
  );
  const step = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(step, 0, new Uint32Array([ntok, 0, 0, 0]));
  const input = storageBuffer(device, x);
  const xq = storageBuffer(device, ntok * quantizedInputWords(K, 'q8_k') * 4);
  poison(device, xq);
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(
    0,
    cache.bindGroup(kernel, [{ buffer: step }, { buffer: input }, { buffer: xq }]),
  );
  pass.dispatchWorkgroups(quantizeInputWorkgroups(K, 'q8_k'), lastToken ? 1 : ntok);
  pass.end();
  device.queue.submit([encoder.finish()]);
  const words = new Uint32Array(await readBuffer(device, xq));
  for (const b of [step, input, xq]) b.destroy();
  return words;
}

const ROWS = { q: 70, k: 12, v: 29 };
/** Output floats per token of the q/k/v product: its rows, then 3 that must keep their poison. */
const STRIDE = ROWS.q + ROWS.k + ROWS.v + 3;
type QkvTypes = Record<'q' | 'k' | 'v', GGMLType>;

/** q, k and v of `types` (v split across two bindings), k and v with biases. */
async function qkvGroup(types: QkvTypes, seed: number): Promise<MemoryGroup> {
  const tensors = [
    { name: 'k.bias', type: GGMLType.F32, dims: [ROWS.k] },
    { name: 'v.bias', type: GGMLType.F32, dims: [ROWS.v] },
    ...(['q', 'k', 'v'] as const).map((name) => ({
      name,
      type: types[name],
      dims: [K, ROWS[name]],
    })),
  ];
  const probe = await memoryGroup(tensors, seed);
  const group = await memoryGroup(tensors, seed, probe.layout.matrices.get('v')!.rowBytes * 20);
  expect(group.layout.matrices.get('v')!.parts.length).toBe(2);
  return group;
}

function q8Spec(group: MemoryGroup, extra: Partial<MatmulSpec> = {}): MatmulSpec {
  return {
    precision: 'f32',
    inputLength: K,
    inputStride: K,
    outputStride: STRIDE,
    mode: 'plain',
    segments: productSegments(group, ['q', 'k', 'v']),
    q8Input: true,
    ...extra,
  };
}

/** The worst relative error of the q/k/v output against the reference; whether the poison stayed. */
function compare(group: MemoryGroup, x: Float32Array, y: Float32Array, tokens: number[]) {
  let worst = 0;
  let untouched = true;
  for (const [i, t] of tokens.entries()) {
    const xt = quantized(x, t);
    let column = 0;
    for (const name of ['q', 'k', 'v'] as const) {
      const bias = group.values.get(`${name}.bias`);
      for (let r = 0; r < ROWS[name]; r++) {
        const [ref, abs] = referenceDot(group, name, xt, r, K);
        const error = Math.abs(y[i * STRIDE + column + r] - ref - (bias ? bias[r] : 0)) / abs;
        worst = Number.isNaN(error) ? NaN : Math.max(worst, error);
      }
      column += ROWS[name];
    }
    for (let c = column; c < STRIDE; c++) untouched &&= Number.isNaN(y[i * STRIDE + c]);
  }
  return { worst, untouched };
}

describe.each([
  ['swiftshader', 4],
  ['lavapipe', 8],
] as const)('Q8_K inputs on %s', (adapter, sharedInput) => {
  const suite = suiteDevice(adapter);

  it("quantizes every token's blocks of 256 as llama.cpp does: int8 quants, f32 scales, block sums", async () => {
    const ntok = 3;
    const x = randomX(ntok * K, 5);
    x.fill(0, K, K + 256);
    const words = await quantize(suite.ed.device, suite.cache, x, ntok);
    const last = await quantize(suite.ed.device, suite.cache, x, ntok, true);
    const xqs = quantizedInputWords(K, 'q8_k');
    const quants = quantizedInputQuants(K);
    for (let t = 0; t < ntok; t++) {
      const expected = quantized(x, t);
      const got = new Int8Array(words.buffer, t * xqs * 4, K);
      const scales = new Float32Array(words.buffer, (t * xqs + quants) * 4, K / 32);
      const sums = new Float32Array(words.buffer, (t * xqs + quants + K / 32) * 4, K / 32);
      for (let b = 0; b < K / 32; b++) {
        const d = scales[b];
        let sum = 0;
        for (let j = b * 32; j < b * 32 + 32; j++) {
          // + 0: a quant of 0 is +0, llama.cpp's rounding of a small negative value -0.
          expect(got[j] * d + 0, `token ${t} value ${j}`).toBe(expected[j] + 0);
          sum += got[j];
        }
        expect(d, `token ${t}: one scale per block of 256`).toBe(scales[b - (b % 8)]);
        expect(sums[b], `token ${t} block ${b} sum`).toBe(Math.fround(d * sum));
      }
    }
    // The zeroed block of 256: scale 0, quants 0.
    expect(Array.from(new Int8Array(words.buffer, (xqs + 0) * 4, 256)).every((q) => q === 0)).toBe(
      true,
    );
    // The last token alone: its own slot, the others left as they were.
    expect(Array.from(last.subarray(2 * xqs))).toEqual(Array.from(words.subarray(2 * xqs)));
    expect(last.subarray(0, 2 * xqs).every((w) => w === POISON_BITS)).toBe(true);
  });

  const triples: [GGMLType, GGMLType, GGMLType][] = [
    [GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K],
    [GGMLType.Q3_K, GGMLType.Q6_K, GGMLType.Q3_K],
  ];
  it.each(
    triples.map(
      ([q, k, v]) =>
        [`${typeName(q)} q, ${typeName(k)} k and ${typeName(v)} v`, { q, k, v }] as const,
    ),
  )(
    '%s (split): every product form against the reference, decoded = GEMM bit for bit',
    async (_, types) => {
      const group = await qkvGroup(types, 21);
      const ntok = 5;
      const x = randomX(ntok * K, 23);
      const xq = await quantize(suite.ed.device, suite.cache, x, ntok);
      const run = (extra: Partial<MatmulSpec>, tokens: number, gemm?: GemmTiles) =>
        runProduct(suite.ed.device, suite.cache, {
          spec: q8Spec(group, extra),
          bound: ['q', 'k', 'v'],
          group,
          input: xq,
          ntok: tokens,
          outLength: tokens * STRIDE,
          gemm,
        });
      const one = { tokens: 1, lanesPerRow: 1, workgroupSize: 64, rowsPerThread: 1 } as const;
      const forms: [string, Float32Array, number[]][] = [
        ['one-token body', await run(one, 1), [0]],
        [`input shared over ${sharedInput} lanes`, await run({ ...one, sharedInput }, 1), [0]],
        ['4 rows per thread', await run({ ...one, workgroupSize: 16, rowsPerThread: 4 }, 1), [0]],
        ['4 lanes per row', await run({ ...one, lanesPerRow: 4 }, 1), [0]],
        ['the last token', await run({ ...one, lastTokenOnly: true }, ntok), [ntok - 1]],
        ['4-token body', await run({ tokens: 4, lanesPerRow: 1 }, ntok), [0, 1, 2, 3, 4]],
        ['unstaged GEMM', await run({}, ntok, CPU_GEMM_TILES), [0, 1, 2, 3, 4]],
      ];
      for (const [form, y, tokens] of forms) {
        const { worst, untouched } = compare(group, x, y, tokens);
        expect(worst, form).toBeLessThan(TOLERANCE);
        expect(untouched, form).toBe(true);
      }
      // Token 0's products are the same bits in the forms of one lane per row that run it.
      const decoded = Array.from(forms[0][1].subarray(0, STRIDE));
      for (const [form, y, tokens] of forms) {
        if (tokens[0] === 0 && !form.includes('lanes per row')) {
          expect(Array.from(y.subarray(0, STRIDE)), form).toEqual(decoded);
        }
      }
    },
  );

  it('SwiGLU over a fused Q4_K gate/up tensor and the residual add over Q6_K, in every product form', async () => {
    const ff = 45;
    const ntok = 9;
    const group = await memoryGroup(
      [
        { name: 'gate_up', type: GGMLType.Q4_K, dims: [K, 2 * ff] },
        { name: 'down', type: GGMLType.Q6_K, dims: [K, ff] },
      ],
      2,
    );
    const x = randomX(ntok * K, 44);
    const xq = await quantize(suite.ed.device, suite.cache, x, ntok);
    const whole = productSegments(group, ['gate_up'])[0];
    const gated: MatmulSpec = {
      precision: 'f32',
      inputLength: K,
      inputStride: K,
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
    const forms: [string, Partial<MatmulSpec>, GemmTiles | undefined][] = [
      ['4-token body', { lanesPerRow: 1, tokens: 4 }, undefined],
      ['one-token body, input shared', { lanesPerRow: 1, tokens: 1, sharedInput }, undefined],
      ['GEMM', { lanesPerRow: 1, tokens: 4 }, CPU_GEMM_TILES],
    ];
    for (const [form, variant, gemm] of forms) {
      const tokens = variant.tokens === 1 ? 1 : ntok;
      const common = { group, input: xq, ntok: tokens, outLength: tokens * ff, gemm };
      const swiglu = await runProduct(suite.ed.device, suite.cache, {
        ...common,
        spec: { ...gated, ...variant },
        bound: ['gate_up', 'gate_up'],
      });
      const added = await runProduct(suite.ed.device, suite.cache, {
        ...common,
        spec: { ...residual, ...variant },
        bound: ['down'],
        y0: y0.subarray(0, tokens * ff),
      });
      let worst = 0;
      for (let t = 0; t < tokens; t++) {
        const xt = quantized(x, t);
        for (let r = 0; r < ff; r++) {
          const [g, ga] = referenceDot(group, 'gate_up', xt, r, K);
          const [u, ua] = referenceDot(group, 'gate_up', xt, ff + r, K);
          const silu = g / (1 + Math.exp(-g));
          const bound = 1.1 * ga * Math.abs(u) + ua * Math.abs(silu);
          worst = Math.max(worst, Math.abs(swiglu[t * ff + r] - silu * u) / bound);
          const [d, da] = referenceDot(group, 'down', xt, r, K);
          const i = t * ff + r;
          worst = Math.max(worst, Math.abs(added[i] - y0[i] - d) / (da + Math.abs(y0[i])));
          if (Number.isNaN(swiglu[i]) || Number.isNaN(added[i])) worst = NaN;
        }
      }
      expect(worst, form).toBeLessThan(TOLERANCE);
    }
  });
});

describe('which products read Q8_K inputs', () => {
  const cases: [GGMLType[], boolean][] = [
    [[GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K], true],
    [[GGMLType.Q4_K, GGMLType.Q8_0], false],
    [[GGMLType.Q6_K, GGMLType.Q2_K], false],
    [[GGMLType.IQ4_XS], false],
  ];
  it.each(cases.map(([types, takes]) => [types.map(typeName).join(', '), types, takes] as const))(
    '%s: %s',
    (_, types, takes) => {
      expect(takesQ8Input(types)).toBe(takes);
    },
  );

  it('refuses a product whose weights mix the two input formats, by name', async () => {
    const group = await memoryGroup(
      [
        { name: 'a', type: GGMLType.Q4_K, dims: [K, 8] },
        { name: 'b', type: GGMLType.Q8_0, dims: [K, 8] },
      ],
      1,
    );
    const spec: MatmulSpec = {
      precision: 'f32',
      inputLength: K,
      inputStride: K,
      outputStride: 16,
      mode: 'plain',
      segments: productSegments(group, ['a', 'b']),
      q8Input: true,
    };
    expect(() => matmulKernel(spec)).toThrow(
      new RegExp(`all of one kind, not ${typeName(GGMLType.Q4_K)}, ${typeName(GGMLType.Q8_0)}`),
    );
  });
});
