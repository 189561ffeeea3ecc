// Q8_K inputs: the quantize pass against llama.cpp's quantize_row_q8_K (quants, scales, block
// sums), and the products over Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS weights that read it (matrix-vector bodies,
// the input shared per subgroup, the unstaged GEMM) against an f64 reference of the quantized
// input, outputs poisoned first; a decoded token's products equal a prefilled one's bit for bit.
import { describe, expect, it } from 'vitest';
import { suiteDevice } from '../suite-device';
import { POISON_BITS } from '../harness';
import { GGMLType, typeName } from '../../../src/engine/gguf/types';
import { matmulKernel, type MatmulSpec } from '../../../src/engine/gguf/kernels/matmul';
import { CPU_GEMM_TILES, SHARED_WEIGHT_TILES } from '../../../src/engine/gguf/kernels/gemm';
import {
  quantizedInputQuants,
  quantizedInputWords,
} from '../../../src/engine/gguf/kernels/quantize-input';
import { q8InputFormat } from '../../../src/engine/gguf/kernels/dequant';
import { memoryGroup } from '../reference/memory-group';
import { productSegments } from './product-run';
import {
  checkGatedProducts,
  checkQkvForms,
  quantizedToken,
  quantizeInput,
  randomInput,
} from './q8-run';

const K = 512;
const FORMAT = { length: K, format: 'q8_k' } as const;

describe.each([
  ['swiftshader', 4],
  ['lavapipe', 8],
] as const)('Q8_K inputs on %s', (adapter, sharedInput) => {
  const suite = suiteDevice(adapter);

  it("quantizes every token's blocks of 256 as llama.cpp does: int8 quants, f32 scales, block sums", async () => {
    const ntok = 3;
    const x = randomInput(ntok * K, 5);
    x.fill(0, K, K + 256);
    const words = await quantizeInput(suite.ed.device, suite.cache, x, ntok, FORMAT);
    const last = await quantizeInput(suite.ed.device, suite.cache, x, ntok, {
      ...FORMAT,
      lastToken: true,
    });
    const xqs = quantizedInputWords(K, 'q8_k');
    const quants = quantizedInputQuants(K);
    for (let t = 0; t < ntok; t++) {
      const expected = quantizedToken(x, t, K, 'q8_k');
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
    [GGMLType.IQ4_XS, GGMLType.Q4_K, GGMLType.IQ4_XS],
  ];
  it.each(
    triples.map(
      ([q, k, v]) =>
        [`${typeName(q)} q, ${typeName(k)} k and ${typeName(v)} v`, { q, k, v }] as const,
    ),
  )(
    '%s (split): every product form against the reference, decoded = GEMM bit for bit',
    async (_, types) => {
      await checkQkvForms(suite.ed.device, suite.cache, FORMAT, types, [sharedInput]);
    },
  );

  it('SwiGLU over a fused Q4_K gate/up tensor and the residual add over Q6_K, in every product form', async () => {
    await checkGatedProducts(
      suite.ed.device,
      suite.cache,
      { ...FORMAT, gateUp: GGMLType.Q4_K, down: GGMLType.Q6_K },
      [
        ['4-token body', { lanesPerRow: 1, tokens: 4 }, undefined],
        ['one-token body, input shared', { lanesPerRow: 1, tokens: 1, sharedInput }, undefined],
        ['GEMM', { lanesPerRow: 1, tokens: 4 }, CPU_GEMM_TILES],
        ['GEMM, weights shared per subgroup', {}, SHARED_WEIGHT_TILES[sharedInput]],
      ],
    );
  });
});

describe('which products read Q8_K inputs', () => {
  const cases: [GGMLType[], boolean][] = [
    [[GGMLType.Q4_K, GGMLType.Q5_K, GGMLType.Q6_K], true],
    [[GGMLType.Q4_K, GGMLType.Q8_0], false],
    [[GGMLType.Q6_K, GGMLType.Q2_K], false],
    [[GGMLType.IQ4_XS, GGMLType.IQ4_NL], false],
  ];
  it.each(cases.map(([types, takes]) => [types.map(typeName).join(', '), types, takes] as const))(
    '%s: %s',
    (_, types, takes) => {
      expect(q8InputFormat(types) !== undefined).toBe(takes);
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
