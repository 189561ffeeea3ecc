// The standalone RMSNorm pass (rms-norm.wgsl): the normalised input of a layer's q/k/v and gate/up
// products and of the output layer, computed once per token, or written as their 8-bit input.
import { kernel, type KernelVariant } from './pipeline';
import { f32Constant } from './preprocess';
import { q8BlockWriter } from './quantize-input';
import source from './rms-norm.wgsl?raw';
import { GPU_PASS_WORKGROUP, type PassWorkgroup } from './pass-workgroup';

export interface RmsNormSpec {
  /** Values per token. */
  length: number;
  /** Index of the norm's weight in the vector region. */
  normIndex: number;
  eps: number;
  /** Normalise the pass's last token alone (the output layer reads nothing else). */
  lastToken?: boolean;
  /** Write the product's 8-bit input (quantize-input.ts) instead of the f32 values. */
  quantize?: boolean;
  /** Threads per token (`passWorkgroup`); absent: the GPUs' 64. */
  workgroup?: PassWorkgroup;
}

export function rmsNormKernel(spec: RmsNormSpec): KernelVariant {
  const constants = {
    E: spec.length,
    NORM: spec.normIndex,
    EPS: f32Constant(spec.eps),
    LAST_TOKEN: spec.lastToken ?? false,
    WG: spec.workgroup ?? GPU_PASS_WORKGROUP,
  };
  if (!spec.quantize) return kernel('rms-norm', source, { ...constants, QUANTIZE: false });
  const writer = q8BlockWriter(spec.length);
  return kernel('rms-norm', writer.source + source, {
    ...constants,
    QUANTIZE: true,
    XQS: writer.XQS,
    QUANTS: writer.QUANTS,
  });
}
