// GPU-friendly layouts for weight tensors. GGUF blocks of Q8_0 (34 bytes), Q4_0 and IQ4_NL (18),
// Q5_0 (22), Q3_K (110) and Q6_K (210) are not 4-byte aligned, so each packed row stores the
// blocks' bodies first and their f16 scales after them, two per u32: every read is an aligned u32
// and a row takes exactly as many bytes as in the file (plus at most 2 bytes of padding when a row
// has an odd block count). Q4_1 (20), Q5_1 (24), Q2_K (84), Q4_K (144), Q5_K (176) and IQ4_XS (136)
// blocks are already 4-byte aligned and stay as they are; F32/F16/BF16 are copied. Q8_0 and Q6_K
// rows are padded to a multiple of 16 bytes.
// One-dimensional tensors (norm weights, biases, rope factors) are widened to f32.
import { BLOCK_LAYOUT, ENGINE_TYPES, GGMLType, typeName, type TensorInfo } from './types';
import { bf16BitsToF32, f16BitsToF32 } from './half';

/** Bytes of a block's body (what precedes the separated f16 scale) for the split layouts. */
const SPLIT_BODY: Partial<Record<GGMLType, { body: number; scaleAt: number }>> = {
  [GGMLType.Q8_0]: { body: 32, scaleAt: 0 },
  [GGMLType.Q4_0]: { body: 16, scaleAt: 0 },
  [GGMLType.Q5_0]: { body: 20, scaleAt: 0 },
  [GGMLType.Q3_K]: { body: 108, scaleAt: 108 },
  [GGMLType.Q6_K]: { body: 208, scaleAt: 208 },
  [GGMLType.IQ4_NL]: { body: 16, scaleAt: 0 },
};

/** Block layouts of the quantized types the engine runs. */
const BLOCK: Partial<Record<GGMLType, { values: number; bytes: number }>> = Object.fromEntries(
  Object.entries(BLOCK_LAYOUT).filter(
    ([type, layout]) => layout.values > 1 && ENGINE_TYPES.has(Number(type) as GGMLType),
  ),
);

export class UnsupportedLayoutError extends Error {
  override name = 'UnsupportedLayoutError';
}

export function isVectorTensor(info: TensorInfo): boolean {
  return info.dims.length === 1 || info.dims.slice(1).every((d) => d === 1);
}

/** Bytes of one packed row of `rowLength` values of `type` (a multiple of 4). */
export function packedRowBytes(type: GGMLType, rowLength: number, name = 'tensor'): number {
  if (type === GGMLType.F32) return rowLength * 4;
  if (type === GGMLType.F16 || type === GGMLType.BF16) {
    if (rowLength % 2) {
      throw new UnsupportedLayoutError(
        `${name}: ${typeName(type)} rows of odd length ${rowLength} cannot be packed in u32 words; ` +
          'convert the model with even row lengths.',
      );
    }
    return rowLength * 2;
  }
  const block = BLOCK[type];
  if (!block) {
    throw new UnsupportedLayoutError(
      `${name}: tensor type ${typeName(type)} is not supported by the engine; ` +
        `use a model quantized as ${[...ENGINE_TYPES].map(typeName).join(', ')}.`,
    );
  }
  if (rowLength % block.values) {
    throw new UnsupportedLayoutError(
      `${name}: row length ${rowLength} is not a multiple of the ${typeName(type)} block (${block.values}).`,
    );
  }
  const blocks = rowLength / block.values;
  const bytes = blocks * block.bytes;
  // Q8_0 and Q6_K rows start on 16 bytes, so products with 8-bit inputs read a block's quants as
  // vec4 loads (deq_q8_0_blocks.wgsl, deq_q6_k_blocks.wgsl): at most 12 bytes of padding on a row
  // of 34- or 210-byte blocks (none on a Q6_K row of a multiple of 2048 values).
  const align = type === GGMLType.Q8_0 || type === GGMLType.Q6_K ? 16 : 4;
  return Math.ceil(bytes / align) * align;
}

/** u32 words of one packed row. */
export function packedRowWords(type: GGMLType, rowLength: number): number {
  return packedRowBytes(type, rowLength) / 4;
}

/**
 * Repacks whole rows of a matrix from file bytes into `out` (which must hold
 * rows * packedRowBytes); `src` starts at the first of those rows.
 */
export function repackRows(
  type: GGMLType,
  rowLength: number,
  src: Uint8Array,
  out: Uint8Array,
): void {
  const split = SPLIT_BODY[type];
  if (!split) {
    out.set(src);
    return;
  }
  const block = BLOCK[type]!;
  const blocks = rowLength / block.values;
  const srcRow = blocks * block.bytes;
  const dstRow = packedRowBytes(type, rowLength);
  const rows = src.length / srcRow;
  const bodyBefore = split.scaleAt;
  const bodyAfter = split.body - bodyBefore;
  for (let r = 0; r < rows; r++) {
    const s0 = r * srcRow;
    const d0 = r * dstRow;
    const scales = d0 + blocks * split.body;
    for (let b = 0; b < blocks; b++) {
      const s = s0 + b * block.bytes;
      const d = d0 + b * split.body;
      if (bodyBefore) out.set(src.subarray(s, s + bodyBefore), d);
      out[scales + 2 * b] = src[s + bodyBefore];
      out[scales + 2 * b + 1] = src[s + bodyBefore + 1];
      if (bodyAfter) out.set(src.subarray(s + bodyBefore + 2, s + block.bytes), d + bodyBefore);
    }
    for (let p = scales + 2 * blocks; p < d0 + dstRow; p++) out[p] = 0;
  }
}

/**
 * Rows of a Q8_0 tensor interleaved per group on CPU-backed adapters (`groupLayout`), where each
 * lane of a SIMD vector runs one row: block b of the group's 8 rows lies in 8 consecutive 32-byte
 * units, then the rows' vectors of scales likewise, so the lanes read one stream of memory instead
 * of 8 (decode 1.4x on lavapipe over a matrix streamed from memory, docs/performance.md).
 */
export const Q8_0_ROW_GROUP = 8;

/**
 * Interleaves `rows` packed Q8_0 rows (row-major in `src`, a multiple of `group` of them) group
 * by group into `out`: within a group, the units of block b (its two 16-byte vectors of quants)
 * of rows 0..group-1 in turn, block by block, then each 16-byte vector of scales of rows
 * 0..group-1 in turn. The layout deq_q8_0.wgsl and deq_q8_0_blocks.wgsl read with GROUP rows.
 */
export function interleaveRowGroups(
  rowLength: number,
  group: number,
  src: Uint8Array,
  out: Uint8Array,
): void {
  const row = packedRowBytes(GGMLType.Q8_0, rowLength);
  const rows = src.length / row;
  if (rows % group) throw new Error(`${rows} rows do not split into groups of ${group}`);
  const blocks = rowLength / 32;
  const scaleVectors = row / 16 - 2 * blocks;
  for (let g0 = 0; g0 < rows; g0 += group) {
    const base = g0 * row;
    for (let i = 0; i < group; i++) {
      const s0 = (g0 + i) * row;
      for (let b = 0; b < blocks; b++) {
        const to = base + (b * group + i) * 32;
        out.set(src.subarray(s0 + b * 32, s0 + b * 32 + 32), to);
      }
      for (let v = 0; v < scaleVectors; v++) {
        const from = s0 + blocks * 32 + v * 16;
        out.set(src.subarray(from, from + 16), base + blocks * 32 * group + (v * group + i) * 16);
      }
    }
  }
}

/** Widens a one-dimensional F32/F16/BF16 tensor to f32. */
export function vectorToF32(info: TensorInfo, src: Uint8Array): Float32Array {
  const n = info.dims.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  for (let i = 0; i < n; i++) {
    if (info.type === GGMLType.F32) out[i] = view.getFloat32(i * 4, true);
    else if (info.type === GGMLType.F16) out[i] = f16BitsToF32(view.getUint16(i * 2, true));
    else if (info.type === GGMLType.BF16) out[i] = bf16BitsToF32(view.getUint16(i * 2, true));
    else {
      throw new UnsupportedLayoutError(
        `${info.name}: a one-dimensional tensor of type ${typeName(info.type)} is not supported; ` +
          'norm weights and biases must be F32, F16 or BF16.',
      );
    }
  }
  return out;
}
