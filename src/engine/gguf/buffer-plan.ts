// Every scratch, activation and KV buffer the GGUF engine allocates, with its byte size, as a pure
// function of the model's hyper-parameters and the run's options. The engine allocates from this
// very plan, and the planner calls it to predict GPU memory, so the two cannot drift apart.
import { ARCHITECTURES } from './architectures';
import { encoderBuffers } from './encoder-plan';
import { SAMPLING, STEP } from './kernels/host-structs';
import { quantizedInputWords } from './kernels/quantize-input';
import { alignUp, BINDING_ALIGNMENT, groupLayout, headTensors, layerTensors } from './layout';
import type { ModelHparams, TensorInfo } from './types';
import type { ComputePrecision } from '../../plan/types';

/** The compute precision is the planner's word; kernels import it from here. */
export type { ComputePrecision };
export type KvPrecision = 'f16' | 'f32';

export interface BufferPlanOptions {
  /** KV cache capacity in tokens. */
  contextTokens: number;
  computePrecision: ComputePrecision;
  /** f16 by default: native f16 with shader-f16, otherwise packed two per u32 (same bytes). */
  kvPrecision?: KvPrecision;
  /** Tokens per prefill pass (the activation buffers hold this many tokens). */
  prefillChunk?: number;
}

export type BufferCategory = 'kv' | 'scratch';

export interface PlannedBuffer {
  name: string;
  category: BufferCategory;
  bytes: number;
  usage: 'storage' | 'uniform' | 'readback';
  /** Transformer layer the buffer belongs to (KV caches). */
  layer?: number;
}

export interface EngineBufferPlan {
  buffers: PlannedBuffer[];
  kvBytes: number;
  scratchBytes: number;
  totalBytes: number;
  /** KV bytes per cached token over all layers. */
  kvBytesPerToken: number;
  prefillChunk: number;
  /** Byte offset of the V region inside each layer's KV buffer. */
  kvValueOffset: number;
}

/**
 * Tokens per prefill pass: each pass reads every weight once, so longer passes read them less
 * often (lavapipe's 512-token prefill 1.08x faster at 64 than at 32, docs/performance.md); the
 * scratch it takes grows with it. 128 ran 1.05-1.08x faster again once passes queued ahead of the
 * host, but its scratch no longer fit budgets that 64 fits (the chunk is not part of the plan).
 */
export const DEFAULT_PREFILL_CHUNK = 64;
/** Most top logits `--logits K` can ask for per step. */
export const MAX_TOP_LOGITS = 64;
/** Most recent tokens the repetition penalty can look at. */
export const MAX_PENALTY_TOKENS = 256;
export const STEP_UNIFORM_BYTES = STEP.bytes;
export const SAMPLING_UNIFORM_BYTES = SAMPLING.bytes;

/** Result words read back per step: the chosen id, then (id, logit) pairs of the top logits. */
export const RESULT_WORDS = 1 + 2 * MAX_TOP_LOGITS;
/**
 * Sampling passes in flight at once: each has its own logits and readback buffer, so the next
 * tokens are submitted while earlier ids are still on their way back.
 */
export const SAMPLED_RING = 3;
/** Slots of the GPU-side token history the sampler appends to (twice the penalty window). */
export const HISTORY_RING = 2 * MAX_PENALTY_TOKENS;

/** Logits per sampler workgroup. */
export const SAMPLE_SLICE = 4096;

export function sampleSlices(vocabSize: number): number {
  return Math.ceil(vocabSize / SAMPLE_SLICE);
}

/** Words of the sampler's per-slice best logits, histograms and totals, and its search state. */
export function samplePartialWords(vocabSize: number): number {
  return (3 + 2 * 256) * sampleSlices(vocabSize) + 8;
}

/** Context splits of decode attention at most; longer contexts get longer splits. */
export const MAX_ATTENTION_SPLITS = 32;
const ATTENTION_TILE = 64;

/**
 * How decode attention cuts a KV cache of `contextTokens` positions: splits of `positions` (a
 * multiple of the kernel's 64-position tile), `count` of them at most.
 */
export function attentionSplit(contextTokens: number): { positions: number; count: number } {
  const tiles = Math.ceil(contextTokens / MAX_ATTENTION_SPLITS / ATTENTION_TILE);
  const positions = Math.max(1, tiles) * ATTENTION_TILE;
  return { positions, count: Math.ceil(contextTokens / positions) };
}

export function qkvWidth(h: ModelHparams): number {
  return h.headCount * h.keyLength + h.headCountKv * (h.keyLength + h.valueLength);
}

/** KV bytes per cached token over all layers, at `kvElement` bytes per stored value. */
export function kvBytesPerToken(h: ModelHparams, kvElement = 2): number {
  // An encoder keeps no KV cache: each sequence runs whole in one pass.
  if (ARCHITECTURES[h.architecture].encoder) return 0;
  return h.blockCount * h.headCountKv * (h.keyLength + h.valueLength) * kvElement;
}

export function engineBufferPlan(h: ModelHparams, options: BufferPlanOptions): EngineBufferPlan {
  if (ARCHITECTURES[h.architecture].encoder) {
    const buffers = encoderBuffers(h, options);
    const scratchBytes = buffers.reduce((a, b) => a + b.bytes, 0);
    return {
      buffers,
      kvBytes: 0,
      scratchBytes,
      totalBytes: scratchBytes,
      kvBytesPerToken: 0,
      prefillChunk: options.contextTokens,
      kvValueOffset: 0,
    };
  }
  const chunk = options.prefillChunk ?? DEFAULT_PREFILL_CHUNK;
  const ctx = options.contextTokens;
  if (!(ctx >= 1) || !(chunk >= 1)) {
    throw new RangeError(`context (${ctx}) and prefill chunk (${chunk}) must be at least 1 token`);
  }
  const kvElement = (options.kvPrecision ?? 'f16') === 'f16' ? 2 : 4;
  const keyBytes = alignUp(ctx * h.headCountKv * h.keyLength * kvElement, BINDING_ALIGNMENT);
  const valueBytes = alignUp(ctx * h.headCountKv * h.valueLength * kvElement, 4);
  const buffers: PlannedBuffer[] = [];
  for (let layer = 0; layer < h.blockCount; layer++) {
    buffers.push({
      name: `kv.${layer}`,
      category: 'kv',
      bytes: keyBytes + valueBytes,
      usage: 'storage',
      layer,
    });
  }
  const f32 = 4;
  const scratch = (name: string, bytes: number, usage: PlannedBuffer['usage'] = 'storage') =>
    buffers.push({ name, category: 'scratch', bytes: alignUp(Math.max(bytes, 16), 16), usage });
  scratch('hidden', chunk * h.embeddingLength * f32);
  // The RMS-normalised hidden state, written once per norm for the products that read it.
  scratch('normed', chunk * h.embeddingLength * f32);
  scratch('qkv', chunk * qkvWidth(h) * f32);
  scratch('attention', chunk * h.headCount * h.valueLength * f32);
  // Each context split's weighted value sums, max score and weight total per head and token.
  const splits = attentionSplit(ctx).count;
  scratch('attention.partials', chunk * h.headCount * splits * (h.valueLength + 2) * f32);
  scratch('ffn', chunk * h.feedForwardLength * f32);
  // A product's input quantized to 8 bits (quantize-input.ts), for the widest input in the larger
  // of the two formats (Q8_K adds a word per block of 32).
  const widest = Math.max(h.embeddingLength, h.headCount * h.valueLength, h.feedForwardLength);
  scratch('input.q8', chunk * Math.ceil(quantizedInputWords(widest, 'q8_k')) * 4);
  // Attention and FFN outputs wait here for their post-norm before the residual add.
  if (ARCHITECTURES[h.architecture].postNorms) scratch('proj', chunk * h.embeddingLength * f32);
  for (let slot = 0; slot < SAMPLED_RING; slot++) scratch(`logits.${slot}`, h.vocabSize * f32);
  scratch('sampling.work', h.vocabSize * f32);
  scratch('sampling.partials', samplePartialWords(h.vocabSize) * 4);
  scratch('rope', ctx * (h.ropeDims / 2) * 2 * f32);
  if (h.slidingWindow > 0) scratch('rope.local', ctx * (h.ropeDims / 2) * 2 * f32);
  scratch('tokens', chunk * 4);
  scratch('history', HISTORY_RING * 4);
  scratch('result', RESULT_WORDS * 4);
  for (let slot = 0; slot < SAMPLED_RING; slot++) {
    scratch(`readback.${slot}`, RESULT_WORDS * 4, 'readback');
  }
  // Where the hidden state crosses to the next device when layers are split across two.
  scratch('hidden.readback', chunk * h.embeddingLength * f32, 'readback');
  scratch('step', STEP_UNIFORM_BYTES, 'uniform');
  scratch('sampling', SAMPLING_UNIFORM_BYTES, 'uniform');
  const kvBytes = buffers.filter((b) => b.category === 'kv').reduce((a, b) => a + b.bytes, 0);
  const scratchBytes = buffers
    .filter((b) => b.category === 'scratch')
    .reduce((a, b) => a + b.bytes, 0);
  return {
    buffers,
    kvBytes,
    scratchBytes,
    totalBytes: kvBytes + scratchBytes,
    kvBytesPerToken: kvBytesPerToken(h, kvElement),
    prefillChunk: chunk,
    kvValueOffset: keyBytes,
  };
}

/** Bytes of transformer layer `layer`'s packed image (= its GPU buffer and its streaming slot). */
export function packedLayerBytes(
  tensors: TensorInfo[],
  layer: number,
  maxBindingBytes: number,
): number {
  return groupLayout(layerTensors(tensors, layer), maxBindingBytes).bytes;
}

/** Bytes of the packed head group: output norm, rope factors and the output layer when untied. */
export function packedHeadBytes(tensors: TensorInfo[], maxBindingBytes: number): number {
  return groupLayout(headTensors(tensors), maxBindingBytes).bytes;
}

/** Bytes of the packed token embedding. */
export function packedEmbeddingBytes(tensors: TensorInfo[], maxBindingBytes: number): number {
  return groupLayout(
    tensors.filter((t) => t.name === 'token_embd.weight'),
    maxBindingBytes,
  ).bytes;
}
