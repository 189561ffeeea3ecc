// 8-bit inputs: the quantize pass against llama.cpp's quantization of an input (bytes and scales),
// and the products over Q8_0, Q5_0, Q4_0 and IQ4_NL weights that read it (matrix-vector bodies, the unstaged GEMM)
// against an f64 reference of the quantized input, outputs poisoned first; a decoded token's
// products equal a prefilled one's bit for bit.
import { describe, expect, it } from 'vitest';
import { suiteDevice } from '../suite-device';
import { POISON_BITS } from '../harness';
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
  SHARED_WEIGHT_TILES,
  gemmKernel,
  type GemmTiles,
} from '../../../src/engine/gguf/kernels/gemm';
import {
  quantizedInputQuants,
  quantizedInputWords,
} from '../../../src/engine/gguf/kernels/quantize-input';
import { memoryGroup, type MemoryGroup } from '../reference/memory-group';
import { f16BitsToF32, f32ToF16Bits } from '../../../src/engine/gguf/half';
import { runProduct } from './product-run';
import { Q8_0_ROW_GROUP } from '../../../src/engine/gguf/repack';
import {
  checkGatedProducts,
  checkQkvForms,
  compareQkv,
  q8Spec,
  qkvGroup,
  QKV_STRIDE,
  Q8_TOLERANCE,
  quantizedToken,
  quantizeInput,
  randomInput,
} from './q8-run';

const K = 320;
const Q8_0 = { q: GGMLType.Q8_0, k: GGMLType.Q8_0, v: GGMLType.Q8_0 };
const FORMAT = { length: K, format: 'q8_0' } as const;

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
    const x = randomInput(ntok * K, 5);
    x.fill(0, K, K + 32);
    const words = await quantizeInput(suite.ed.device, suite.cache, x, ntok, FORMAT);
    const last = await quantizeInput(suite.ed.device, suite.cache, x, ntok, {
      ...FORMAT,
      lastToken: true,
    });
    const xqs = quantizedInputWords(K);
    const quants = quantizedInputQuants(K);
    for (let t = 0; t < ntok; t++) {
      const expected = quantizedToken(x, t, K, 'q8_0');
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
      const group = await qkvGroup(Q8_0, K, 9);
      const ntok = variant.tokens === 1 ? 1 : 6;
      const x = randomInput(ntok * K, 17);
      const xq = await quantizeInput(suite.ed.device, suite.cache, x, ntok, FORMAT);
      const y = await runProduct(suite.ed.device, suite.cache, {
        spec: q8Spec(group, ['q', 'k', 'v'], K, variant),
        bound: ['q', 'k', 'v'],
        group,
        input: xq,
        ntok,
        outLength: ntok * QKV_STRIDE,
      });
      const tokens = Array.from({ length: ntok }, (_, t) => t);
      const { worst, untouched } = compareQkv(group, x, y, tokens, K, 'q8_0');
      expect(worst).toBeLessThan(Q8_TOLERANCE);
      expect(untouched, 'columns past the rows keep their poison').toBe(true);
    },
  );

  it.each([undefined, ...sharedForms])(
    'the last token alone, as the output layer reads it (input shared over lanes: %s)',
    async (sharedInput) => {
      const group = await qkvGroup(Q8_0, K, 4);
      const ntok = 5;
      const x = randomInput(ntok * K, 8);
      const xq = await quantizeInput(suite.ed.device, suite.cache, x, ntok, {
        ...FORMAT,
        lastToken: true,
      });
      const y = await runProduct(suite.ed.device, suite.cache, {
        spec: q8Spec(group, ['q', 'k', 'v'], K, {
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
        outLength: QKV_STRIDE,
      });
      const { worst, untouched } = compareQkv(group, x, y, [ntok - 1], K, 'q8_0');
      expect(worst).toBeLessThan(Q8_TOLERANCE);
      expect(untouched).toBe(true);
    },
  );

  it.each([1, 7, 33, 100])(
    'the unstaged GEMM over %i tokens, each thread reading its rows and the weights shared per subgroup',
    async (ntok) => {
      const group = await qkvGroup(Q8_0, K, ntok);
      const x = randomInput(ntok * K, 30 + ntok);
      const xq = await quantizeInput(suite.ed.device, suite.cache, x, ntok, FORMAT);
      const tiles = [CPU_GEMM_TILES, ...sharedForms.map((lanes) => SHARED_WEIGHT_TILES[lanes])];
      for (const gemm of tiles) {
        const y = await runProduct(suite.ed.device, suite.cache, {
          spec: q8Spec(group, ['q', 'k', 'v'], K),
          bound: ['q', 'k', 'v'],
          group,
          input: xq,
          ntok,
          outLength: ntok * QKV_STRIDE,
          gemm,
        });
        const tokens = Array.from({ length: ntok }, (_, t) => t);
        const { worst, untouched } = compareQkv(group, x, y, tokens, K, 'q8_0');
        const form = `shared over ${gemm.sharedWeights ?? 1} lanes`;
        expect(worst, form).toBeLessThan(Q8_TOLERANCE);
        expect(untouched, form).toBe(true);
      }
    },
  );

  it('SwiGLU over a fused Q8_0 gate/up tensor and the residual add, in every product form', async () => {
    await checkGatedProducts(
      suite.ed.device,
      suite.cache,
      { ...FORMAT, gateUp: GGMLType.Q8_0, down: GGMLType.Q8_0 },
      [
        ['matrix-vector', { lanesPerRow: 1, tokens: 4 }, undefined],
        [
          'one-token body, input shared per subgroup',
          { lanesPerRow: 1, tokens: 1, sharedInput: widest },
          undefined,
        ],
        ['GEMM', { lanesPerRow: 1, tokens: 4 }, CPU_GEMM_TILES],
        ['GEMM, weights shared per subgroup', {}, SHARED_WEIGHT_TILES[widest]],
      ],
    );
  });

  it("a decoded token's products equal the unstaged GEMM's and the 4-token body's bit for bit", async () => {
    const group = await qkvGroup(Q8_0, K, 3);
    const x = randomInput(K, 6);
    const xq = await quantizeInput(suite.ed.device, suite.cache, x, 1, FORMAT);
    const spec = q8Spec(group, ['q', 'k', 'v'], K, { lanesPerRow: 1 });
    const run = (s: Partial<MatmulSpec>, gemm?: GemmTiles) =>
      runProduct(suite.ed.device, suite.cache, {
        spec: { ...spec, ...s },
        bound: ['q', 'k', 'v'],
        group,
        input: xq,
        ntok: 1,
        outLength: QKV_STRIDE,
        gemm,
      });
    const decoded = await run({ tokens: 1, workgroupSize: 64, rowsPerThread: 1 });
    expect(decoded.subarray(0, QKV_STRIDE - 3).every((v) => Number.isFinite(v))).toBe(true);
    expect(Array.from(await run({}, CPU_GEMM_TILES))).toEqual(Array.from(decoded));
    expect(Array.from(await run({ tokens: 4 }))).toEqual(Array.from(decoded));
    for (const lanes of sharedForms) {
      expect(Array.from(await run({}, SHARED_WEIGHT_TILES[lanes])), `GEMM over ${lanes}`).toEqual(
        Array.from(decoded),
      );
    }
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
    const x = randomInput(ntok * K, 13);
    const xq = await quantizeInput(suite.ed.device, suite.cache, x, ntok, FORMAT);
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
      ...sharedForms.map((lanes): [string, Partial<MatmulSpec>, GemmTiles] => [
        `GEMM, weights shared over ${lanes} lanes`,
        {},
        SHARED_WEIGHT_TILES[lanes],
      ]),
    ];
    for (const [form, extra, gemm] of forms) {
      const run = (group: MemoryGroup) =>
        runProduct(suite.ed.device, suite.cache, {
          spec: { ...q8Spec(group, ['q', 'k', 'v'], K, extra), outputStride: stride },
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
    ['IQ4_NL q, Q4_0 k', GGMLType.IQ4_NL, GGMLType.Q4_0],
  ] as const)(
    '%s and Q8_0 v (split): every product form against the reference, decoded = GEMM bit for bit',
    async (_, qType, kType) => {
      const types = { q: qType, k: kType, v: GGMLType.Q8_0 };
      await checkQkvForms(suite.ed.device, suite.cache, FORMAT, types, sharedForms);
    },
  );

  it('refuses what 8-bit inputs cannot run: the staged GEMM, weights without a block reader, a shared input outside the one-token body', async () => {
    const group = await memoryGroup([{ name: 'a', type: GGMLType.Q4_1, dims: [K, 8] }], 1);
    const q80 = await qkvGroup(Q8_0, K, 1);
    expect(() => gemmKernel(q8Spec(q80, ['q'], K), DEFAULT_GEMM_TILES)).toThrow(
      /unstaged GEMM only/,
    );
    const refusal = /8-bit inputs take Q4_0, Q5_0, Q8_0, .* all of one kind, not Q4_1$/;
    expect(() => matmulKernel(q8Spec(group, ['a'], K))).toThrow(refusal);
    expect(() => gemmKernel(q8Spec(group, ['a'], K), CPU_GEMM_TILES)).toThrow(refusal);
    const one = { tokens: 1, lanesPerRow: 1, rowsPerThread: 1, sharedInput: 4 } as const;
    expect(() => matmulKernel({ ...q8Spec(q80, ['q'], K, one), q8Input: false })).toThrow(
      /shared input is read by the one-token body of an 8-bit-input product/,
    );
    expect(() => matmulKernel(q8Spec(q80, ['q'], K, { ...one, lanesPerRow: 4 }))).toThrow(
      /one lane and one row per thread/,
    );
  });
});
