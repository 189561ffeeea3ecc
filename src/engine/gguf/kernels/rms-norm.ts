// The standalone RMSNorm pass (rms-norm.wgsl): the normalised input of a layer's q/k/v and gate/up
// products and of the output layer, computed once per token.
import { HOST_STRUCTS_WGSL } from './host-structs';
import type { KernelSource } from './matmul';
import { f32Constant, preprocess } from './preprocess';
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

export function rmsNormKernel(spec: RmsNormSpec): KernelSource {
  const code = preprocess(
    source,
    {
      E: spec.length,
      NORM: spec.normIndex,
      EPS: f32Constant(spec.eps),
      LAST_TOKEN: spec.lastToken ?? false,
      WG: RMS_NORM_WORKGROUP,
    },
    'rms-norm.wgsl',
  );
  return { code: HOST_STRUCTS_WGSL + code, bindings: ['uniform', 'read', 'read', 'rw'] };
}
