// Kernels whose WGSL lives in .wgsl files, specialised by the model's shape constants: rope,
// norm-add and top-logits as kernel variants (see pipeline.ts).
import type { ModelHparams } from '../types';
import { qkvWidth } from '../buffer-plan';
import { kernel, type KernelVariant } from './pipeline';
import { f32Constant, type KernelConstants } from './preprocess';
import ropeSource from './rope.wgsl?raw';
import topLogitsSource from './top-logits.wgsl?raw';
import normAddSource from './norm-add.wgsl?raw';
import { GPU_PASS_WORKGROUP, type PassWorkgroup } from './pass-workgroup';

export interface RopeOptions {
  /** Index of attn_q_norm / attn_k_norm in the layer's vector region (qwen3). */
  qNormIndex?: number;
  kNormIndex?: number;
  /** Store keys unrotated: a layer without RoPE (SmolLM3). */
  noRope?: boolean;
  /** Threads per head and token (`passWorkgroup`); absent: the GPUs' 64. */
  workgroup?: PassWorkgroup;
}

export function ropeKernel(h: ModelHparams, options: RopeOptions): KernelVariant {
  if (h.keyLength / 2 > 256 || h.valueLength / 2 > 256) {
    throw new Error(`head widths ${h.keyLength}/${h.valueLength} above 512 are not supported`);
  }
  const { qNormIndex, kNormIndex } = options;
  const qkNorm: KernelConstants =
    qNormIndex !== undefined && kNormIndex !== undefined
      ? { QK_NORM: true, Q_NORM: qNormIndex, K_NORM: kNormIndex, EPS: f32Constant(h.rmsEpsilon) }
      : { QK_NORM: false };
  return kernel('rope', ropeSource, {
    H: h.headCount,
    HKV: h.headCountKv,
    DK: h.keyLength,
    DV: h.valueLength,
    QKV: qkvWidth(h),
    ROPE_PAIRS: options.noRope ? 0 : h.ropeDims / 2,
    NEOX: h.ropePairing === 'neox',
    WG: options.workgroup ?? GPU_PASS_WORKGROUP,
    ...qkNorm,
  });
}

/** hidden += RMSNorm(x) * w per token: Gemma's post-attention and post-FFN norms. */
export function normAddKernel(h: ModelHparams, normIndex: number): KernelVariant {
  return kernel('norm-add', normAddSource, {
    E: h.embeddingLength,
    NORM: normIndex,
    EPS: f32Constant(h.rmsEpsilon),
  });
}

export function topLogitsKernel(vocabSize: number): KernelVariant {
  return kernel('top-logits', topLogitsSource, { V: vocabSize });
}

/**
 * cos/sin for every position and rotary pair, in f64 from f32 angles as ggml forms them:
 * theta = pos * base^(-2i/d) / factor_i, scaled for linear rope scaling, both times the RoPE
 * attention factor. `local` gives the table
 * of the sliding-window layers: their own base and no scaling.
 */
export function ropeTable(
  h: ModelHparams,
  positions: number,
  freqFactors?: Float32Array,
  local = false,
): Float32Array {
  const pairs = h.ropeDims / 2;
  const table = new Float32Array(positions * pairs * 2);
  const linear =
    !local && h.ropeScaling.type === 'linear' && h.ropeScaling.factor > 0
      ? 1 / h.ropeScaling.factor
      : 1;
  const base = local ? h.ropeThetaLocal : h.ropeTheta;
  const thetaScale = Math.fround(Math.pow(base, -2 / h.ropeDims));
  const inv = new Float64Array(pairs);
  let f = 1;
  for (let i = 0; i < pairs; i++) {
    inv[i] = f / (freqFactors && !local ? freqFactors[i] : 1);
    f = Math.fround(f * thetaScale);
  }
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < pairs; i++) {
      const theta = Math.fround(Math.fround(p * linear) * inv[i]);
      table[(p * pairs + i) * 2] = Math.cos(theta) * h.ropeAttnFactor;
      table[(p * pairs + i) * 2 + 1] = Math.sin(theta) * h.ropeAttnFactor;
    }
  }
  return table;
}
