// INT8 weights from a float file: every F16/BF16/F32 matrix whose rows are whole Q8_0 blocks is
// quantized to Q8_0 as it is read, with ggml's own rounding (`quantizeQ8_0`), so the GPU holds
// byte for byte what a Q8_0 file written from the same weights would give. Vectors (norms,
// biases, rope factors) stay as they are: the engine widens them to f32 anyway. The planner's
// `typeOnLoad` follows the same rule; the allocator test holds the two together.
import { quantizeQ8_0 } from './quantize';
import { vectorToF32 } from './repack';
import { BLOCK_LAYOUT, GGMLType, storedBytes, type TensorInfo } from './types';

export type WeightPrecision = 'file' | 'q8_0';

const FLOAT_TYPES = new Set([GGMLType.F32, GGMLType.F16, GGMLType.BF16]);
const Q8_0_VALUES = BLOCK_LAYOUT[GGMLType.Q8_0]!.values;

function quantizable(t: TensorInfo): boolean {
  const isMatrix = t.dims.length >= 2 && t.dims.slice(1).some((d) => d > 1);
  return isMatrix && FLOAT_TYPES.has(t.type) && t.dims[0] % Q8_0_VALUES === 0;
}

/**
 * The tensors as the engine holds them: with `q8_0`, quantizable matrices become Q8_0 and keep
 * their file type in `sourceType`, which tells the loader to convert the rows it reads.
 */
export function tensorsForLoad(tensors: TensorInfo[], weights: WeightPrecision): TensorInfo[] {
  if (weights === 'file') return tensors;
  return tensors.map((t) => {
    if (!quantizable(t)) return t;
    const count = t.dims.reduce((a, b) => a * b, 1);
    return {
      ...t,
      type: GGMLType.Q8_0,
      bytes: storedBytes(GGMLType.Q8_0, count),
      sourceType: t.type,
    };
  });
}

/** Rows of `sourceType` values read from the file, as Q8_0 blocks in file order. */
export function quantizeRows(
  info: TensorInfo,
  sourceType: GGMLType,
  rowLength: number,
  src: Uint8Array,
): Uint8Array {
  const values = src.length / storedBytes(sourceType, 1);
  if (!Number.isInteger(values / rowLength)) {
    throw new RangeError(`${info.name}: ${src.length} bytes are not whole rows of ${rowLength}`);
  }
  const floats = vectorToF32({ ...info, type: sourceType, dims: [values] }, src);
  return quantizeQ8_0(floats);
}
