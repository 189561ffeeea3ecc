// Decode attention as flash-decoding (attention.wgsl): a split kernel over (KV head, context split,
// token) and a reduce kernel over (query head, token), with the split size fixed by the context
// capacity so that every position is always cut the same way.
import type { ModelHparams } from '../types';
import { attentionSplit, qkvWidth } from '../buffer-plan';
import { kernel, type KernelVariant } from './pipeline';
import { f32Constant } from './preprocess';
import { q8BlockWriter } from './quantize-input';
import attentionSource from './attention.wgsl?raw';
import { GPU_PASS_WORKGROUP, type PassWorkgroup } from './pass-workgroup';

export interface AttentionKernels {
  split: KernelVariant;
  reduce: KernelVariant;
  /**
   * The reduce writing its output as the output projection's 8-bit input (quantize-input.ts);
   * absent where a value head is not a whole number of blocks of 32.
   */
  reduceQ8?: KernelVariant;
  /** Positions per split. */
  splitPositions: number;
}

/**
 * What every attention kernel is specialised by: the heads (query, KV, query heads per KV head),
 * their widths, the q/k/v row, the score scale, the window (0: none) and the soft-cap; after
 * checking that the query heads divide into the KV heads.
 */
export function attentionConstants(h: ModelHparams, window: number) {
  if (h.headCount % h.headCountKv) {
    throw new Error(`${h.headCount} query heads do not divide into ${h.headCountKv} KV heads`);
  }
  return {
    H: h.headCount,
    HKV: h.headCountKv,
    G: h.headCount / h.headCountKv,
    DK: h.keyLength,
    DV: h.valueLength,
    QKV: qkvWidth(h),
    SCALE: f32Constant(1 / Math.sqrt(h.keyLength)),
    WINDOW: window,
    SOFTCAP: f32Constant(h.attentionSoftCap),
  };
}

/**
 * A layer's attention over a KV cache of `contextTokens` positions: every earlier position, or the
 * last `window` (0: all); the reduce runs `workgroup` threads per head and token (`passWorkgroup`).
 */
export function attentionKernels(
  h: ModelHparams,
  contextTokens: number,
  window = 0,
  workgroup: PassWorkgroup = GPU_PASS_WORKGROUP,
): AttentionKernels {
  if (h.keyLength % 8 || h.valueLength % 2) {
    throw new Error(
      `head widths ${h.keyLength}/${h.valueLength}: attention reads keys by 8 and values by 2`,
    );
  }
  const { positions, count } = attentionSplit(contextTokens);
  const constants = {
    ...attentionConstants(h, window),
    SPLIT: positions,
    MAX_SPLITS: count,
  };
  const kernels: AttentionKernels = {
    split: kernel('attention', attentionSource, { ...constants, REDUCE: false, QUANTIZE: false }),
    reduce: kernel('attention', attentionSource, {
      ...constants,
      REDUCE: true,
      QUANTIZE: false,
      WG: workgroup,
    }),
    splitPositions: positions,
  };
  if (h.valueLength % 32 === 0) {
    const writer = q8BlockWriter(h.headCount * h.valueLength);
    kernels.reduceQ8 = kernel('attention', writer.source + attentionSource, {
      ...constants,
      REDUCE: true,
      QUANTIZE: true,
      WG: workgroup,
      XQS: writer.XQS,
      QUANTS: writer.QUANTS,
    });
  }
  return kernels;
}
