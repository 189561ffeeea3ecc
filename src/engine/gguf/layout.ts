// Where each tensor of a group (one transformer layer, or the model's global tensors) lives
// inside that group's single GPU buffer. Vectors (norms, biases, rope factors) come first as one
// f32 region bound once; each matrix follows at a binding-aligned offset, split by rows into parts
// no larger than the binding cap. A streamed layer's slot buffer uses the very same layout.
import { isVectorTensor, packedRowBytes, Q8_0_ROW_GROUP, UnsupportedLayoutError } from './repack';
import { GGMLType, type TensorInfo } from './types';

/** The largest `minStorageBufferOffsetAlignment` WebGPU allows, so offsets suit every device. */
export const BINDING_ALIGNMENT = 256;

export interface PackedPart {
  /** Byte offset in the group buffer. */
  offset: number;
  bytes: number;
  rowStart: number;
  rows: number;
}

export interface PackedMatrix {
  info: TensorInfo;
  type: GGMLType;
  rowLength: number;
  rows: number;
  rowBytes: number;
  /**
   * Rows stored interleaved per group (`interleaveRowGroups`): Q8_0_ROW_GROUP for Q8_0 matrices
   * laid out for CPU-backed adapters, else 1 (row after row).
   */
  rowGroup: number;
  parts: PackedPart[];
}

export interface PackedVector {
  info: TensorInfo;
  /** Index of the first f32 in the vector region. */
  index: number;
  length: number;
}

export interface GroupLayout {
  matrices: Map<string, PackedMatrix>;
  vectors: Map<string, PackedVector>;
  /** Bytes of the f32 vector region at offset 0 (a multiple of 4, at least 4). */
  vectorBytes: number;
  /** Bytes of the whole group buffer. */
  bytes: number;
}

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/**
 * With `rowGroups` (CPU-backed adapters), Q8_0 matrices whose row count is a multiple of
 * Q8_0_ROW_GROUP store their rows interleaved per group. Their parts hold whole groups either way,
 * so the bytes and offsets are the same with and without (the planner counts them without).
 */
export function groupLayout(
  tensors: TensorInfo[],
  maxBindingBytes: number,
  rowGroups = false,
): GroupLayout {
  const vectors = new Map<string, PackedVector>();
  const matrices = new Map<string, PackedMatrix>();
  let index = 0;
  for (const info of tensors.filter(isVectorTensor)) {
    const length = info.dims.reduce((a, b) => a * b, 1);
    vectors.set(info.name, { info, index, length });
    index += length;
  }
  const vectorBytes = Math.max(4, index * 4);
  if (vectorBytes > maxBindingBytes) {
    throw new UnsupportedLayoutError(
      `the vectors of ${tensors[0]?.name ?? 'a tensor group'} take ${vectorBytes} bytes, more than ` +
        `one binding (${maxBindingBytes}); this device cannot run the model.`,
    );
  }
  let offset = alignUp(vectorBytes, BINDING_ALIGNMENT);
  for (const info of tensors.filter((t) => !isVectorTensor(t))) {
    const rowLength = info.dims[0];
    const rows = info.dims.slice(1).reduce((a, b) => a * b, 1);
    const rowBytes = packedRowBytes(info.type, rowLength, info.name);
    const fit = Math.floor(maxBindingBytes / rowBytes);
    const groupable =
      info.type === GGMLType.Q8_0 && rows % Q8_0_ROW_GROUP === 0 && fit >= Q8_0_ROW_GROUP;
    const rowsPerPart = groupable ? fit - (fit % Q8_0_ROW_GROUP) : fit;
    if (rowsPerPart < 1) {
      throw new UnsupportedLayoutError(
        `${info.name}: one row takes ${rowBytes} bytes, more than a storage binding allows ` +
          `(${maxBindingBytes}); this device cannot run the model.`,
      );
    }
    const parts: PackedPart[] = [];
    for (let rowStart = 0; rowStart < rows; rowStart += rowsPerPart) {
      const partRows = Math.min(rowsPerPart, rows - rowStart);
      offset = alignUp(offset, BINDING_ALIGNMENT);
      parts.push({ offset, bytes: partRows * rowBytes, rowStart, rows: partRows });
      offset += partRows * rowBytes;
    }
    const rowGroup = rowGroups && groupable ? Q8_0_ROW_GROUP : 1;
    matrices.set(info.name, { info, type: info.type, rowLength, rows, rowBytes, rowGroup, parts });
  }
  return { matrices, vectors, vectorBytes, bytes: alignUp(offset, 4) };
}

/** Tensors of transformer layer `layer` (`blk.N.*`). */
export function layerTensors(tensors: TensorInfo[], layer: number): TensorInfo[] {
  const prefix = `blk.${layer}.`;
  return tensors.filter((t) => t.name.startsWith(prefix));
}

/** Global tensors other than the token embedding: output norm, rope factors, output layer. */
export function headTensors(tensors: TensorInfo[]): TensorInfo[] {
  return tensors.filter((t) => !t.name.startsWith('blk.') && t.name !== 'token_embd.weight');
}
