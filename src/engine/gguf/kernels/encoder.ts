// The BERT family's own kernels as variants (see pipeline.ts): LayerNorm with its residual or
// embedding-table add, GELU, and attention over each sequence of a packed encoder pass.
import type { ModelHparams } from '../types';
import { qkvWidth } from '../buffer-plan';
import { kernel, type KernelVariant } from './pipeline';
import { f32Constant } from './preprocess';
import layerNormSource from './layer-norm.wgsl?raw';
import geluSource from './gelu.wgsl?raw';
import encoderAttentionSource from './encoder-attention.wgsl?raw';

/** Longest sequence the encoder attention holds the scores of in workgroup memory. */
export const MAX_ENCODER_SEQUENCE = 2048;

/**
 * What LayerNorm adds to the hidden state first: nothing, the token's row of another buffer (the
 * attention or FFN output), or the row of the token's position (the embedding table).
 */
export type LayerNormExtra = 'none' | 'token' | 'position';

const EXTRA_CODES: Record<LayerNormExtra, number> = { none: 0, token: 1, position: 2 };

export function layerNormKernel(
  h: ModelHparams,
  weightIndex: number,
  biasIndex: number,
  extra: LayerNormExtra,
): KernelVariant {
  return kernel('layer-norm', layerNormSource, {
    E: h.embeddingLength,
    W: weightIndex,
    B: biasIndex,
    EPS: f32Constant(h.rmsEpsilon),
    EXTRA: EXTRA_CODES[extra],
  });
}

export function geluKernel(h: ModelHparams): KernelVariant {
  return kernel('gelu', geluSource, { FF: h.feedForwardLength });
}

/** Attention within each sequence of up to `maxSequence` tokens; `rope`: rotate q and k first. */
export function encoderAttentionKernel(
  h: ModelHparams,
  maxSequence: number,
  rope: boolean,
): KernelVariant {
  if (h.headCount % h.headCountKv) {
    throw new Error(`${h.headCount} query heads do not divide into ${h.headCountKv} KV heads`);
  }
  if (maxSequence > MAX_ENCODER_SEQUENCE) {
    throw new Error(
      `encoder sequences of ${maxSequence} tokens are longer than the ${MAX_ENCODER_SEQUENCE} ` +
        'the attention kernel holds; load the embedding model with a smaller context.',
    );
  }
  return kernel('encoder-attention', encoderAttentionSource, {
    H: h.headCount,
    HKV: h.headCountKv,
    DK: h.keyLength,
    DV: h.valueLength,
    QKV: qkvWidth(h),
    MAX_SEQ: maxSequence,
    SCALE: f32Constant(1 / Math.sqrt(h.keyLength)),
    ROPE_PAIRS: rope ? h.ropeDims / 2 : 0,
  });
}
