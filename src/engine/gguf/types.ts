// Shared vocabulary of the GGUF engine, the planner and the store: tensor types and their
// block layouts, tensor descriptions, model hyper-parameters, and a random-access byte source.
import type { Architecture } from './architectures.ts';

/** ggml tensor type ids as stored in GGUF (ggml.h `enum ggml_type`). */
export enum GGMLType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ4_NL = 20,
  IQ4_XS = 23,
  BF16 = 30,
}

/** Values per block and bytes per block, from ggml's type traits. */
export const BLOCK_LAYOUT: Partial<Record<GGMLType, { values: number; bytes: number }>> = {
  [GGMLType.F32]: { values: 1, bytes: 4 },
  [GGMLType.F16]: { values: 1, bytes: 2 },
  [GGMLType.BF16]: { values: 1, bytes: 2 },
  [GGMLType.Q4_0]: { values: 32, bytes: 18 },
  [GGMLType.Q4_1]: { values: 32, bytes: 20 },
  [GGMLType.Q5_0]: { values: 32, bytes: 22 },
  [GGMLType.Q5_1]: { values: 32, bytes: 24 },
  [GGMLType.Q8_0]: { values: 32, bytes: 34 },
  [GGMLType.Q8_1]: { values: 32, bytes: 36 },
  [GGMLType.Q2_K]: { values: 256, bytes: 84 },
  [GGMLType.Q3_K]: { values: 256, bytes: 110 },
  [GGMLType.Q4_K]: { values: 256, bytes: 144 },
  [GGMLType.Q5_K]: { values: 256, bytes: 176 },
  [GGMLType.Q6_K]: { values: 256, bytes: 210 },
  [GGMLType.Q8_K]: { values: 256, bytes: 292 },
  [GGMLType.IQ4_NL]: { values: 32, bytes: 18 },
  [GGMLType.IQ4_XS]: { values: 256, bytes: 136 },
};

/** The types the engine computes with; any other type is refused with the tensor's name. */
export const ENGINE_TYPES: ReadonlySet<GGMLType> = new Set([
  GGMLType.F32,
  GGMLType.F16,
  GGMLType.BF16,
  GGMLType.Q8_0,
  GGMLType.Q4_0,
  GGMLType.Q4_1,
  GGMLType.Q5_0,
  GGMLType.Q5_1,
  GGMLType.Q2_K,
  GGMLType.Q3_K,
  GGMLType.Q4_K,
  GGMLType.Q5_K,
  GGMLType.Q6_K,
  GGMLType.IQ4_NL,
  GGMLType.IQ4_XS,
]);

export function typeName(type: GGMLType): string {
  return GGMLType[type] ?? `type ${type}`;
}

/** Bytes of a tensor of `elements` values stored as `type` (as in the file). */
export function storedBytes(type: GGMLType, elements: number): number {
  const layout = BLOCK_LAYOUT[type];
  if (!layout) throw new RangeError(`unknown tensor type ${type}`);
  return (elements / layout.values) * layout.bytes;
}

export interface TensorInfo {
  name: string;
  type: GGMLType;
  /** ggml order: dims[0] is the row length (contiguous), dims[1] the number of rows. */
  dims: number[];
  /** Byte offset from the start of the file. */
  offset: number;
  /** Bytes in the file. */
  bytes: number;
  /**
   * Set when the engine converts the tensor on load (F16 -> Q8_0): the type stored in the file.
   * `type` and `bytes` are then as loaded, while `offset` still points into the file.
   */
  sourceType?: GGMLType;
}

export type { Architecture };

export interface RopeScaling {
  /** Llama 3.x "llama3" scaling, applied through `rope_freqs.weight` when the file has it. */
  type: 'none' | 'linear' | 'llama3';
  factor: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalContextLength?: number;
}

export interface ModelHparams {
  architecture: Architecture;
  name: string;
  blockCount: number;
  embeddingLength: number;
  feedForwardLength: number;
  headCount: number;
  headCountKv: number;
  /** Per-head key and value widths (Qwen3's `attention.key_length` can differ from embd / heads). */
  keyLength: number;
  valueLength: number;
  contextLength: number;
  vocabSize: number;
  /** The norms' epsilon: RMSNorm's, or LayerNorm's for the architectures that use it. */
  rmsEpsilon: number;
  ropeTheta: number;
  ropeDims: number;
  /** From the architecture's entry in `ARCHITECTURES`. */
  ropePairing: 'adjacent' | 'neox';
  ropeScaling: RopeScaling;
  /** cos and sin are multiplied by this (`rope.scaling.attn_factor`, LongRoPE's magnitude). */
  ropeAttnFactor: number;
  /** No `output.weight`: the token embedding doubles as the output layer. */
  tiedEmbeddings: boolean;
  /** Positions a windowed layer attends to (itself included); 0 when no layer is windowed. */
  slidingWindow: number;
  /** Of every `slidingPeriod` layers all but the last are windowed (see `isSlidingLayer`). */
  slidingPeriod: number;
  /** RoPE base of the windowed layers (no RoPE scaling there). */
  ropeThetaLocal: number;
  /** cap * tanh(x / cap) on attention scores and on the logits; 0: none. */
  attentionSoftCap: number;
  finalSoftCap: number;
  /** Rows of an encoder's `token_types` table (`tokenizer.ggml.token_type_count`). */
  tokenTypes?: number;
}

export interface ModelHeader {
  version: number;
  metadata: Record<string, unknown>;
  tensors: TensorInfo[];
  /** Start of the tensor data section (aligned). */
  dataOffset: number;
  hparams: ModelHparams;
}

/** Random access to a model file's bytes: a Blob, an HTTP URL with Range, a Node path, the store. */
export interface ModelSource {
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array>;
}
