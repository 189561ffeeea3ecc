// 8-bit inputs: the quantize pass against llama.cpp's quantization of an input (bytes and scales),
// and the products over Q8_0, Q5_0 and Q4_0 weights that read it (matrix-vector bodies, the unstaged GEMM)
// against an f64 reference of the quantized input, outputs poisoned first; a decoded token's
// products equal a prefilled one's bit for bit.
import { describe, expect, it } from 'vitest';
import { suiteDevice } from '../suite-device';
import { poison, POISON_BITS, random, readBuffer, storageBuffer } from '../harness';
import { GGMLType } from '../../../src/engine/gguf/types';
import {
  matmulKernel,
  sharedInputLanes,
  type MatmulSpec,
  type SharedInputLanes,
} from '../../../src/engine/gguf/kernels/matmul';
import {
  CPU_GEMM_TILES,
  DEFAULT_GEMM_TILES,
  gemmKernel,
  type GemmTiles,
} from '../../../src/engine/gguf/kernels/gemm';
import {
  quantizeInputKernel,
  quantizeInputWorkgroups,
  quantizedInputQuants,
  quantizedInputWords,
} from '../../../src/engine/gguf/kernels/quantize-input';
import { PipelineCache } from '../../../src/engine/gguf/kernels/pipeline';
import { memoryGroup, type MemoryGroup } from '../reference/memory-group';
import { roundActivations } from '../reference/dequant';
import { f16BitsToF32, f32ToF16Bits } from '../../../src/engine/gguf/half';
import { productSegments, referenceDot, runProduct } from './product-run';
import { Q8_0_ROW_GROUP } from '../../../src/engine/gguf/repack';

const K = 320;
/**
 * The integer dot products are exact; what is left is an f32 sum of K / 8 scaled terms (and
 * SwiGLU's f32 exp): measured below 1e-6 on both adapters.
 */
const TOLERANCE = 1e-5;

function randomX(length: number, seed: number): Float32Array {
  const next = random(seed);
  return Float32Array.from({ length }, () => (next() * 4 - 2) * (next() < 0.1 ? 8 : 1));
}

/** Token t of x quantized as llama.cpp quantizes a Q8_0 product's input (f64, exact values). */
function quantized(x: Float32Array, t: number, k = K): Float64Array {
  return roundActivations(GGMLType.Q8_0, Float64Array.from(x.subarray(t * k, (t + 1) * k)));
}

function stepBuffer(device: GPUDevice, ntok: number): GPUBuffer {
  const step = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(step, 0, new Uint32Array([ntok, 0, 0, 0]));
  return step;
}

/** Runs the quantize pass over `ntok` tokens of x (or the last alone): the words it writes. */
async function quantize(
  device: GPUDevice,
  cache: PipelineCache,
  x: Float32Array,
  ntok: number,
  lastToken = false,
): Promise<Uint32Array> {
  const kernel = await cache.get(quantizeInputKernel({ length: K, stride: K, lastToken }));
  const step = stepBuffer(device, ntok);
  const input = storageBuffer(device, x);
  const xq = storageBuffer(device, ntok * quantizedInputWords(K) * 4);
  poison(device, xq);
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(
    0,
    cache.bindGroup(kernel, [{ buffer: step }, { buffer: input }, { buffer: xq }]),
  );
  pass.dispatchWorkgroups(quantizeInputWorkgroups(K), lastToken ? 1 : ntok);
  pass.end();
  device.queue.submit([encoder.finish()]);
  const words = new Uint32Array(await readBuffer(device, xq));
  for (const b of [step, input, xq]) b.destroy();
  return words;
}

const ROWS = { q: 70, k: 12, v: 29 };
/** Output floats per token of the q/k/v product: its rows, then 3 that must keep their poison. */
const STRIDE = ROWS.q + ROWS.k + ROWS.v + 3;

/** A plain product over `names` of `group` with 8-bit inputs, and `extra` on top. */
function q8Spec(group: MemoryGroup, names: string[], extra: Partial<MatmulSpec> = {}): MatmulSpec {
  return {
    precision: 'f32',
    inputLength: K,
    inputStride: K,
    outputStride: STRIDE,
    mode: 'plain',
    segments: productSegments(group, names),
    q8Input: true,
    ...extra,
  };
}

/** q, k and v over Q8_0 (v split across two bindings, k and v with biases). */
async function qkvGroup(seed: number): Promise<MemoryGroup> {
  const tensors = [
    { name: 'k.bias', type: GGMLType.F32, dims: [ROWS.k] },
    { name: 'v.bias', type: GGMLType.F32, dims: [ROWS.v] },
    ...(['q', 'k', 'v'] as const).map((name) => ({
      name,
      type: GGMLType.Q8_0,
      dims: [K, ROWS[name]],
    })),
  ];
  const probe = await memoryGroup(tensors, seed);
  const group = await memoryGroup(tensors, seed, probe.layout.matrices.get('v')!.rowBytes * 20);
  expect(group.layout.matrices.get('v')!.parts.length).toBe(2);
  return group;
}

/**
 * The worst relative error of the q/k/v product's output y (tokens `STRIDE` apart) against the
 * reference, and whether the columns past the rows kept their poison.
 */
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
        const got = y[i * STRIDE + column + r];
        const error = Math.abs(got - ref - (bias ? bias[r] : 0)) / (abs + 1e-30);
        worst = Number.isNaN(error) ? NaN : Math.max(worst, error);
      }
      column += ROWS[name];
    }
    for (let c = column; c < STRIDE; c++) untouched &&= Number.isNaN(y[i * STRIDE + c]);
  }
  return { worst, untouched };
}

/** The shared-input forms each adapter's subgroups hold (SwiftShader's have 4 lanes, lavapipe's 8). */
const SHARED_LANES: Record<'swiftshader' | 'lavapipe', SharedInputLanes[]> = {
  swiftshader: [4],
  lavapipe: [4, 8],
};

describe.each(['swiftshader', 'lavapipe'] as const)('8-bit inputs on %s', (adapter) => {
  const suite = suiteDevice(adapter);
  const sharedForms = SHARED_LANES[adapter];
  /** The widest form, the one the engine picks on this adapter. */
  const widest = sharedForms[sharedForms.length - 1];

  it('shares inputs over the lanes the engine picks for this adapter', () => {
    const info = suite.ed.adapterInfo as GPUAdapterInfo & { subgroupMinSize?: number };
    expect(sharedInputLanes(suite.ed.device.features.has('subgroups'), info.subgroupMinSize)).toBe(
      widest,
    );
  });

  it("quantizes every token's blocks as llama.cpp does: int8 quants, f16-rounded scales", async () => {
    const ntok = 3;
    const x = randomX(ntok * K, 5);
    x.fill(0, K, K + 32);
    const words = await quantize(suite.ed.device, suite.cache, x, ntok);
    const last = await quantize(suite.ed.device, suite.cache, x, ntok, true);
    const xqs = quantizedInputWords(K);
    const quants = quantizedInputQuants(K);
    for (let t = 0; t < ntok; t++) {
      const expected = quantized(x, t);
      const got = new Int8Array(words.buffer, t * xqs * 4, K);
      const scales = new Float32Array(words.buffer, (t * xqs + quants) * 4, K / 32);
      for (let b = 0; b < K / 32; b++) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[t * K + b * 32 + j]));
        const d = f16BitsToF32(f32ToF16Bits(Math.fround(amax / 127)));
        expect(scales[b], `token ${t} block ${b} scale`).toBe(d);
        for (let j = b * 32; j < b * 32 + 32; j++) {
          // + 0: a quant of 0 is +0, llama.cpp's rounding of a small negative value -0.
          expect(got[j] * d + 0, `token ${t} value ${j}`).toBe(expected[j] + 0);
        }
      }
    }
    // The last token alone: its own slot, the others left as they were.
    expect(Array.from(last.subarray(2 * xqs))).toEqual(Array.from(words.subarray(2 * xqs)));
    expect(last.subarray(0, 2 * xqs).every((w) => w === POISON_BITS)).toBe(true);
  });

  // One-token and four-token bodies: one lane and one row per thread (with the input shared per
  // subgroup too), several rows per thread, several lanes per row.
  const one = {
    lanesPerRow: 1,
    workgroupSize: 64,
    tokens: 1,
    subgroups: false,
    rowsPerThread: 1,
  } as const;
  const variants: (Required<
    Pick<MatmulSpec, 'lanesPerRow' | 'workgroupSize' | 'tokens' | 'subgroups' | 'rowsPerThread'>
  > &
    Pick<MatmulSpec, 'sharedInput'>)[] = [
    one,
    ...sharedForms.map((sharedInput) => ({ ...one, sharedInput })),
    { ...one, workgroupSize: 16, rowsPerThread: 4 },
    { ...one, lanesPerRow: 4, subgroups: true, rowsPerThread: 2 },
    { ...one, lanesPerRow: 16 },
    { ...one, tokens: 4 },
    { ...one, lanesPerRow: 4, tokens: 4, subgroups: true },
  ];
  it.each(
    variants.map((v) => [
      v.lanesPerRow,
      v.rowsPerThread,
      v.workgroupSize,
      v.tokens,
      v.sharedInput ? `, input shared over ${v.sharedInput} lanes` : '',
      v,
    ]),
  )(
    'q, k and v with biases over a split Q8_0 tensor: matrix-vector %i lanes, %i rows per thread, %i threads, %i-token body%s',
    async (_l, _r, _w, _t, _s, variant) => {
      const group = await qkvGroup(9);
      const ntok = variant.tokens === 1 ? 1 : 6;
      const x = randomX(ntok * K, 17);
      const xq = await quantize(suite.ed.device, suite.cache, x, ntok);
      const y = await runProduct(suite.ed.device, suite.cache, {
        spec: q8Spec(group, ['q', 'k', 'v'], variant),
        bound: ['q', 'k', 'v'],
        group,
        input: xq,
        ntok,
        outLength: ntok * STRIDE,
      });
      const tokens = Array.from({ length: ntok }, (_, t) => t);
      const { worst, untouched } = compare(group, x, y, tokens);
      expect(worst).toBeLessThan(TOLERANCE);
      expect(untouched, 'columns past the rows keep their poison').toBe(true);
    },
  );

  it.each([undefined, ...sharedForms])(
    'the last token alone, as the output layer reads it (input shared over lanes: %s)',
    async (sharedInput) => {
      const group = await qkvGroup(4);
      const ntok = 5;
      const x = randomX(ntok * K, 8);
      const xq = await quantize(suite.ed.device, suite.cache, x, ntok, true);
      const y = await runProduct(suite.ed.device, suite.cache, {
        spec: q8Spec(group, ['q', 'k', 'v'], {
          lastTokenOnly: true,
          lanesPerRow: 1,
          workgroupSize: 64,
          tokens: 1,
          sharedInput,
        }),
        bound: ['q', 'k', 'v'],
        group,
        input: xq,
        ntok,
        outLength: STRIDE,
      });
      const { worst, untouched } = compare(group, x, y, [ntok - 1]);
      expect(worst).toBeLessThan(TOLERANCE);
      expect(untouched).toBe(true);
    },
  );

  it.each([1, 7, 33, 100])('the unstaged GEMM over %i tokens', async (ntok) => {
    const group = await qkvGroup(ntok);
    const x = randomX(ntok * K, 30 + ntok);
    const xq = await quantize(suite.ed.device, suite.cache, x, ntok);
    const y = await runProduct(suite.ed.device, suite.cache, {
      spec: q8Spec(group, ['q', 'k', 'v']),
      bound: ['q', 'k', 'v'],
      group,
      input: xq,
      ntok,
      outLength: ntok * STRIDE,
      gemm: CPU_GEMM_TILES,
    });
    const { worst, untouched } = compare(
      group,
      x,
      y,
      Array.from({ length: ntok }, (_, t) => t),
    );
    expect(worst).toBeLessThan(TOLERANCE);
    expect(untouched).toBe(true);
  });

  it('SwiGLU over a fused Q8_0 gate/up tensor and the residual add, in every product form', async () => {
    const ff = 45;
    const ntok = 9;
    const group = await memoryGroup(
      [
        { name: 'gate_up', type: GGMLType.Q8_0, dims: [K, 2 * ff] },
        { name: 'down', type: GGMLType.Q8_0, dims: [K, ff] },
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
      ['matrix-vector', { lanesPerRow: 1, tokens: 4 }, undefined],
      [
        'one-token body, input shared per subgroup',
        { lanesPerRow: 1, tokens: 1, sharedInput: widest },
        undefined,
      ],
      ['GEMM', { lanesPerRow: 1, tokens: 4 }, CPU_GEMM_TILES],
    ];
    for (const [form, variant, gemm] of forms) {
      const common = { group, input: xq, ntok, outLength: ntok * ff, gemm };
      const swiglu = await runProduct(suite.ed.device, suite.cache, {
        ...common,
        spec: { ...gated, ...variant },
        bound: ['gate_up', 'gate_up'],
      });
      const added = await runProduct(suite.ed.device, suite.cache, {
        ...common,
        spec: { ...residual, ...variant },
        bound: ['down'],
        y0,
      });
      let worst = 0;
      for (let t = 0; t < ntok; t++) {
        const xt = quantized(x, t);
        for (let r = 0; r < ff; r++) {
          const [g, ga] = referenceDot(group, 'gate_up', xt, r, K);
          const [u, ua] = referenceDot(group, 'gate_up', xt, ff + r, K);
          const silu = g / (1 + Math.exp(-g));
          const bound = 1.1 * ga * Math.abs(u) + ua * Math.abs(silu) + 1e-30;
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

  it("a decoded token's products equal the unstaged GEMM's and the 4-token body's bit for bit", async () => {
    const group = await qkvGroup(3);
    const x = randomX(K, 6);
    const xq = await quantize(suite.ed.device, suite.cache, x, 1);
    const spec = q8Spec(group, ['q', 'k', 'v'], { lanesPerRow: 1 });
    const run = (s: Partial<MatmulSpec>, gemm?: GemmTiles) =>
      runProduct(suite.ed.device, suite.cache, {
        spec: { ...spec, ...s },
        bound: ['q', 'k', 'v'],
        group,
        input: xq,
        ntok: 1,
        outLength: STRIDE,
        gemm,
      });
    const decoded = await run({ tokens: 1, workgroupSize: 64, rowsPerThread: 1 });
    expect(decoded.subarray(0, STRIDE - 3).every((v) => Number.isFinite(v))).toBe(true);
    expect(Array.from(await run({}, CPU_GEMM_TILES))).toEqual(Array.from(decoded));
    expect(Array.from(await run({ tokens: 4 }))).toEqual(Array.from(decoded));
    for (const sharedInput of sharedForms) {
      const shared = { tokens: 1, workgroupSize: 64, rowsPerThread: 1, sharedInput } as const;
      expect(Array.from(await run(shared)), `shared over ${sharedInput}`).toEqual(
        Array.from(decoded),
      );
    }
  });

  it('Q8_0 rows interleaved per group of 8 (the CPU-backed layout): every product form gives the row-major bits', async () => {
    const rows = { q: 72, k: 16, v: 48 };
    const stride = rows.q + rows.k + rows.v + 3;
    const tensors = (['q', 'k', 'v'] as const).map((name) => ({
      name,
      type: GGMLType.Q8_0,
      dims: [K, rows[name]],
    }));
    const probe = await memoryGroup(tensors, 12);
    const cap = probe.layout.matrices.get('v')!.rowBytes * 20;
    const rowMajor = await memoryGroup(tensors, 12, cap);
    const grouped = await memoryGroup(tensors, 12, cap, true);
    const v = grouped.layout.matrices.get('v')!;
    expect(v.rowGroup).toBe(Q8_0_ROW_GROUP);
    expect(v.parts.map((p) => p.rows)).toEqual([16, 16, 16]);
    expect(rowMajor.layout.matrices.get('v')!.rowGroup).toBe(1);
    expect(grouped.layout.bytes).toBe(rowMajor.layout.bytes);
    expect(grouped.image).not.toEqual(rowMajor.image);
    const ntok = 5;
    const x = randomX(ntok * K, 13);
    const xq = await quantize(suite.ed.device, suite.cache, x, ntok);
    const forms: [string, Partial<MatmulSpec>, GemmTiles | undefined][] = [
      ['one-token body', { tokens: 1, lanesPerRow: 1 }, undefined],
      ...sharedForms.map((sharedInput): [string, Partial<MatmulSpec>, undefined] => [
        `one-token body, input shared over ${sharedInput} lanes`,
        { tokens: 1, lanesPerRow: 1, sharedInput },
        undefined,
      ]),
      ['4-token body', { tokens: 4, lanesPerRow: 1 }, undefined],
      ['the last token', { tokens: 1, lanesPerRow: 1, lastTokenOnly: true }, undefined],
      ['f32 inputs', { tokens: 4, lanesPerRow: 1, q8Input: false }, undefined],
      ['unstaged GEMM', {}, CPU_GEMM_TILES],
    ];
    for (const [form, extra, gemm] of forms) {
      const run = (group: MemoryGroup) =>
        runProduct(suite.ed.device, suite.cache, {
          spec: { ...q8Spec(group, ['q', 'k', 'v'], extra), outputStride: stride },
          bound: ['q', 'k', 'v'],
          group,
          input: extra.q8Input === false ? x : xq,
          ntok,
          outLength: ntok * stride,
          gemm,
        });
      const expected = await run(rowMajor);
      const got = await run(grouped);
      expect(
        expected.some((value) => Number.isFinite(value)),
        form,
      ).toBe(true);
      expect(Array.from(got), form).toEqual(Array.from(expected));
    }
  });

  it.each([
    ['Q5_0 q, Q4_0 k', GGMLType.Q5_0, GGMLType.Q4_0],
    ['Q4_0 q, Q5_0 k', GGMLType.Q4_0, GGMLType.Q5_0],
  ] as const)(
    '%s and Q8_0 v (split): every product form against the reference, decoded = GEMM bit for bit',
    async (_, qType, kType) => {
      const types = { q: qType, k: kType, v: GGMLType.Q8_0 };
      const tensors = (['q', 'k', 'v'] as const).map((name) => ({
        name,
        type: types[name],
        dims: [K, ROWS[name]],
      }));
      const probe = await memoryGroup(tensors, 21);
      const cap = probe.layout.matrices.get('v')!.rowBytes * 20;
      const group = await memoryGroup(tensors, 21, cap);
      expect(group.layout.matrices.get('v')!.parts.length).toBe(2);
      const ntok = 5;
      const x = randomX(ntok * K, 23);
      const xq = await quantize(suite.ed.device, suite.cache, x, ntok);
      const run = (extra: Partial<MatmulSpec>, tokens: number, gemm?: GemmTiles) =>
        runProduct(suite.ed.device, suite.cache, {
          spec: q8Spec(group, ['q', 'k', 'v'], extra),
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
        ...(await Promise.all(
          sharedForms.map(async (sharedInput): Promise<[string, Float32Array, number[]]> => [
            `one-token body, input shared over ${sharedInput} lanes`,
            await run({ ...one, sharedInput }, 1),
            [0],
          ]),
        )),
        ['the last token', await run({ ...one, lastTokenOnly: true }, ntok), [ntok - 1]],
        ['4-token body', await run({ tokens: 4, lanesPerRow: 1 }, ntok), [0, 1, 2, 3, 4]],
        ['unstaged GEMM', await run({}, ntok, CPU_GEMM_TILES), [0, 1, 2, 3, 4]],
      ];
      for (const [form, y, tokens] of forms) {
        const { worst, untouched } = compare(group, x, y, tokens);
        expect(worst, form).toBeLessThan(TOLERANCE);
        expect(untouched, form).toBe(true);
      }
      // Token 0's products are the same bits in every form that runs it.
      const decoded = Array.from(forms[0][1].subarray(0, STRIDE));
      for (const [form, y, tokens] of forms) {
        if (tokens[0] === 0) expect(Array.from(y.subarray(0, STRIDE)), form).toEqual(decoded);
      }
    },
  );

  it('refuses what 8-bit inputs cannot run: the staged GEMM, weights without a block reader, a shared input outside the one-token body', async () => {
    const group = await memoryGroup([{ name: 'a', type: GGMLType.Q4_1, dims: [K, 8] }], 1);
    const q80 = await qkvGroup(1);
    expect(() => gemmKernel(q8Spec(q80, ['q']), DEFAULT_GEMM_TILES)).toThrow(/unstaged GEMM only/);
    const refusal = /8-bit inputs take Q4_0, Q5_0, Q8_0 weights .* all of one kind, not Q4_1$/;
    expect(() => matmulKernel(q8Spec(group, ['a']))).toThrow(refusal);
    expect(() => gemmKernel(q8Spec(group, ['a']), CPU_GEMM_TILES)).toThrow(refusal);
    const one = { tokens: 1, lanesPerRow: 1, rowsPerThread: 1, sharedInput: 4 } as const;
    expect(() => matmulKernel({ ...q8Spec(q80, ['q'], one), q8Input: false })).toThrow(
      /shared input is read by the one-token body of an 8-bit-input product/,
    );
    expect(() => matmulKernel(q8Spec(q80, ['q'], { ...one, lanesPerRow: 4 }))).toThrow(
      /one lane and one row per thread/,
    );
  });
});
