// Which ggml type llama.cpp's quantizer gives each tensor for a file type such as Q4_K_M, so the
// planner can say how big another quantization of the same model would be (and tests can build
// headers with the type mixes real files have). Follows llama-quant.cpp for dense models:
// - the output layer (or the token embedding when tied) gets Q6_K, or Q8_0 when its rows are not
//   a multiple of 256; a Q8_0 file keeps Q8_0;
// - Q4_K_M and Q5_K_M give attn_v and ffn_down Q6_K in the first and last eighth of the layers
//   and every third layer between (`use_more_bits`);
// - rows whose length is not a multiple of the block fall back: Q4_K -> Q5_0, Q5_K -> Q5_1,
//   Q6_K -> Q8_0, and F16 when even that does not divide;
// - one-dimensional tensors (norms, biases, rope_freqs) stay F32.
import { BLOCK_LAYOUT, GGMLType, type TensorInfo } from '../engine/gguf/types.ts';

export type FileType = 'Q8_0' | 'Q6_K' | 'Q5_K_M' | 'Q4_K_M' | 'Q4_0';

const BASE_TYPE: Record<FileType, GGMLType> = {
  Q8_0: GGMLType.Q8_0,
  Q6_K: GGMLType.Q6_K,
  Q5_K_M: GGMLType.Q5_K,
  Q4_K_M: GGMLType.Q4_K,
  Q4_0: GGMLType.Q4_0,
};

const FALLBACK: Partial<Record<GGMLType, GGMLType>> = {
  [GGMLType.Q4_K]: GGMLType.Q5_0,
  [GGMLType.Q5_K]: GGMLType.Q5_1,
  [GGMLType.Q6_K]: GGMLType.Q8_0,
};

export function useMoreBits(layer: number, layers: number): boolean {
  const eighth = Math.floor(layers / 8);
  return layer < eighth || layer >= Math.floor((7 * layers) / 8) || (layer - eighth) % 3 === 2;
}

function blockValues(type: GGMLType): number {
  return BLOCK_LAYOUT[type]?.values ?? 1;
}

function withFallback(type: GGMLType, rowLength: number): GGMLType {
  if (rowLength % blockValues(type) === 0) return type;
  const next = FALLBACK[type];
  if (next !== undefined && rowLength % blockValues(next) === 0) return next;
  return GGMLType.F16;
}

export interface TensorShape {
  name: string;
  dims: number[];
}

/** The type llama.cpp's quantizer writes for this tensor in a file of `fileType`. */
export function quantizedType(
  tensor: TensorShape,
  fileType: FileType,
  layers: number,
  tiedEmbeddings: boolean,
): GGMLType {
  if (tensor.dims.length < 2 || tensor.dims[1] === 1) return GGMLType.F32;
  const rowLength = tensor.dims[0];
  const base = BASE_TYPE[fileType];
  const isOutput =
    tensor.name === 'output.weight' || (tiedEmbeddings && tensor.name === 'token_embd.weight');
  if (isOutput) {
    if (base === GGMLType.Q8_0) return withFallback(GGMLType.Q8_0, rowLength);
    return withFallback(rowLength % 256 === 0 ? GGMLType.Q6_K : GGMLType.Q8_0, rowLength);
  }
  // llama.cpp counts a fused attn_qkv as attn_v.
  const layerMatch = /^blk\.(\d+)\.(attn_v|attn_qkv|ffn_down)\.weight$/.exec(tensor.name);
  const mixed = fileType === 'Q4_K_M' || fileType === 'Q5_K_M';
  if (mixed && layerMatch && useMoreBits(Number(layerMatch[1]), layers)) {
    return withFallback(GGMLType.Q6_K, rowLength);
  }
  return withFallback(base, rowLength);
}

/** The same tensors retyped as llama.cpp would write them for `fileType`. */
export function retype(
  tensors: TensorInfo[],
  fileType: FileType,
  layers: number,
  tiedEmbeddings: boolean,
): TensorInfo[] {
  return tensors.map((t) => {
    const type = quantizedType(t, fileType, layers, tiedEmbeddings);
    const layout = BLOCK_LAYOUT[type]!;
    const count = t.dims.reduce((a, b) => a * b, 1);
    return { ...t, type, bytes: (count / layout.values) * layout.bytes };
  });
}
