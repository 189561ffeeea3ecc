// Q8_0 rows interleaved per group (the CPU-backed adapters' layout): the layout's choice and
// parts, and the repacked bytes, each block's quants and each vector of scales moved whole.
import { describe, expect, it } from 'vitest';
import { groupLayout } from '../../src/engine/gguf/layout.ts';
import {
  interleaveRowGroups,
  packedRowBytes,
  Q8_0_ROW_GROUP,
} from '../../src/engine/gguf/repack.ts';
import { GGMLType, type TensorInfo } from '../../src/engine/gguf/types.ts';

function matrix(name: string, type: GGMLType, rowLength: number, rows: number): TensorInfo {
  return { name, type, dims: [rowLength, rows], offset: 0, bytes: 0 };
}

describe('Q8_0 row groups', () => {
  it('groups Q8_0 matrices whose rows split into groups, only when asked, at the same bytes', () => {
    const tensors = [
      matrix('a', GGMLType.Q8_0, 320, 48),
      matrix('b', GGMLType.Q8_0, 320, 29),
      matrix('c', GGMLType.Q4_0, 320, 48),
    ];
    const row = packedRowBytes(GGMLType.Q8_0, 320);
    // A binding that holds 20 rows: grouped parts hold 16, whole groups.
    const plain = groupLayout(tensors, row * 20);
    const grouped = groupLayout(tensors, row * 20, true);
    expect(grouped.matrices.get('a')!.rowGroup).toBe(Q8_0_ROW_GROUP);
    expect(grouped.matrices.get('b')!.rowGroup).toBe(1);
    expect(grouped.matrices.get('c')!.rowGroup).toBe(1);
    expect([...plain.matrices.values()].map((m) => m.rowGroup)).toEqual([1, 1, 1]);
    expect(grouped.matrices.get('a')!.parts.map((p) => p.rows)).toEqual([16, 16, 16]);
    expect(plain.matrices.get('a')!.parts).toEqual(grouped.matrices.get('a')!.parts);
    expect(plain.matrices.get('b')!.parts.map((p) => p.rows)).toEqual([20, 9]);
    expect(grouped.bytes).toBe(plain.bytes);
  });

  it('keeps rows apart when a binding holds fewer rows than a group', () => {
    const a = matrix('a', GGMLType.Q8_0, 320, 48);
    const layout = groupLayout([a], packedRowBytes(GGMLType.Q8_0, 320) * 5, true);
    expect(layout.matrices.get('a')!.rowGroup).toBe(1);
    expect(layout.matrices.get('a')!.parts.map((p) => p.rows)).toEqual([
      5, 5, 5, 5, 5, 5, 5, 5, 5, 3,
    ]);
  });

  it("moves each row's blocks and vectors of scales whole, group by group", () => {
    const rowLength = 320;
    const blocks = rowLength / 32;
    const row = packedRowBytes(GGMLType.Q8_0, rowLength);
    const scaleVectors = row / 16 - 2 * blocks;
    const rows = 16;
    const src = Uint8Array.from({ length: rows * row }, (_, i) => (i * 7 + (i >> 8)) & 255);
    const out = new Uint8Array(src.length);
    interleaveRowGroups(rowLength, Q8_0_ROW_GROUP, src, out);
    expect([...out].sort((x, y) => x - y)).toEqual([...src].sort((x, y) => x - y));
    const G = Q8_0_ROW_GROUP;
    for (let r = 0; r < rows; r++) {
      const group = Math.floor(r / G) * G * row;
      const i = r % G;
      for (let b = 0; b < blocks; b++) {
        const at = group + (b * G + i) * 32;
        expect(out.subarray(at, at + 32)).toEqual(
          src.subarray(r * row + b * 32, r * row + b * 32 + 32),
        );
      }
      for (let v = 0; v < scaleVectors; v++) {
        const at = group + blocks * 32 * G + (v * G + i) * 16;
        const from = r * row + blocks * 32 + v * 16;
        expect(out.subarray(at, at + 16)).toEqual(src.subarray(from, from + 16));
      }
    }
    expect(() => interleaveRowGroups(rowLength, G, src.subarray(0, 3 * row), out)).toThrow(
      /do not split into groups of 8/,
    );
  });
});
