// How many 8-value groups the products read per decoded scale pair: a K-quant's 32 values, so a
// sub-block's scales are decoded once for all of its groups, and one group elsewhere.
import { describe, expect, it } from 'vitest';
import { GGMLType, typeName } from '../../src/engine/gguf/types';
import { scaleGroups } from '../../src/engine/gguf/kernels/dequant';
import { matmulKernel, type MatmulSpec } from '../../src/engine/gguf/kernels/matmul';
import { gemmKernel, CPU_GEMM_TILES, DEFAULT_GEMM_TILES } from '../../src/engine/gguf/kernels/gemm';

const K = 512;

function spec(types: GGMLType[], q8Input = false): MatmulSpec {
  return {
    precision: 'f32',
    inputLength: K,
    inputStride: K,
    outputStride: 64 * types.length,
    mode: 'plain',
    segments: types.map((type, i) => ({
      parts: [{ type, rowStart: 0, rows: 64 }],
      rows: 64,
      outColumn: 64 * i,
    })),
    tokens: 1,
    q8Input,
  };
}

function scaleGroupsOf(key: string): number {
  const match = /SCALE_GROUPS=(\d+)u/.exec(key);
  if (!match) throw new Error(`no SCALE_GROUPS in ${key}`);
  return Number(match[1]);
}

describe('scale pairs decoded per unit of groups', () => {
  it.each(
    [
      [GGMLType.Q4_K, 4],
      [GGMLType.Q5_K, 4],
      [GGMLType.Q6_K, 4],
      [GGMLType.Q3_K, 4],
      [GGMLType.IQ4_XS, 4],
      [GGMLType.Q2_K, 2],
      [GGMLType.Q8_0, 1],
      [GGMLType.Q4_1, 1],
      [GGMLType.F16, 1],
    ].map(([type, groups]) => [typeName(type), type, groups] as const),
  )('%s reads %i groups per scale pair', (_, type, groups) => {
    expect(scaleGroups([type])).toBe(groups);
    expect(scaleGroupsOf(matmulKernel(spec([type])).key)).toBe(groups);
  });

  it('a product over several types takes the smallest unit of its segments', () => {
    expect(scaleGroupsOf(matmulKernel(spec([GGMLType.Q4_K, GGMLType.Q6_K])).key)).toBe(4);
    expect(scaleGroupsOf(matmulKernel(spec([GGMLType.Q4_K, GGMLType.Q2_K])).key)).toBe(2);
    expect(scaleGroupsOf(matmulKernel(spec([GGMLType.Q8_0, GGMLType.Q6_K])).key)).toBe(1);
  });

  it('8-bit-input products read blocks whole, scales included', () => {
    expect(scaleGroupsOf(matmulKernel(spec([GGMLType.Q8_0], true)).key)).toBe(1);
  });

  it("the staged GEMM's unit divides its staging step", () => {
    const types = [GGMLType.Q4_K];
    const gemm = (k: number) => gemmKernel(spec(types), { ...DEFAULT_GEMM_TILES, k });
    expect(scaleGroupsOf(gemm(32).key)).toBe(4);
    expect(scaleGroupsOf(gemm(16).key)).toBe(2);
    expect(scaleGroupsOf(gemm(24).key)).toBe(1);
    expect(scaleGroupsOf(gemmKernel(spec(types), CPU_GEMM_TILES).key)).toBe(1);
  });
});
