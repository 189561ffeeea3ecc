// The standalone RMSNorm pass (rms-norm.wgsl): the normalised input of a layer's q/k/v and gate/up
// products and of the output layer, computed once per token.
import { kernel, type KernelVariant } from './pipeline';
import { f32Constant } from './preprocess';
import source from './rms-norm.wgsl?raw';

/** Threads per token (a power of two: the reduction halves it). */
export const RMS_NORM_WORKGROUP = 64;

export interface RmsNormSpec {
  /** Values per token. */
  length: number;
  /** Index of the norm's weight in the vector region. */
  normIndex: number;
  eps: number;
  /** Normalise the pass's last token alone (the output layer reads nothing else). */
  lastToken?: boolean;
}

export function rmsNormKernel(spec: RmsNormSpec): KernelVariant {
  return kernel('rms-norm', source, {
    E: spec.length,
    NORM: spec.normIndex,
    EPS: f32Constant(spec.eps),
    LAST_TOKEN: spec.lastToken ?? false,
    WG: RMS_NORM_WORKGROUP,
  });
}
