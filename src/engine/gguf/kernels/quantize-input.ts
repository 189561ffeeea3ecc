// 8-bit inputs: the products whose weights are Q8_0, Q5_0 or Q4_0 read their input quantized as
// llama.cpp's CPU backend quantizes it for them (Q8_0; quantize-input.wgsl, once per token) and
// sum with integer dot products
// (`dot_q8` in common.wgsl). On CPU-backed adapters, where every value loaded costs more than the
// arithmetic it feeds, a quarter of the input's loads and no int8-to-float conversions made such
// a product 2x faster in isolation and lavapipe's decode 1.4x, its prefill 1.5x
// (docs/performance.md, "8-bit inputs for Q8_0 products").
import { kernel, type KernelVariant } from './pipeline';
import quantizeBlockSource from './quantize-block.wgsl?raw';
import source from './quantize-input.wgsl?raw';

/** Threads per workgroup, one per block of 32 values. */
export const QUANTIZE_WORKGROUP = 32;

/**
 * Words of one token's quantized input of `length` values: the quants, then a scale per block of
 * 32, padded to whole vectors of four words (the products read vectors).
 */
export function quantizedInputWords(length: number): number {
  return quantizedInputQuants(length) + Math.ceil(length / 32 / 4) * 4;
}

/** Words of a token's quants (its scales follow them). */
export function quantizedInputQuants(length: number): number {
  return length / 4;
}

/** The constants a product reading 8-bit inputs of `length` values needs (product-input.wgsl). */
export function inputQ8Constants(length: number): { XQS4: number; SCALES4: number } {
  return { XQS4: quantizedInputWords(length) / 4, SCALES4: quantizedInputQuants(length) / 4 };
}

/**
 * What a kernel writing 8-bit inputs of `length` values needs: quantize-block.wgsl (joined before
 * the kernel's own source) and the layout's constants.
 */
export function q8BlockWriter(length: number): { source: string; XQS: number; QUANTS: number } {
  if (length % 32) {
    throw new Error(`8-bit inputs need a row length that is a multiple of 32 (got ${length})`);
  }
  return {
    source: quantizeBlockSource,
    XQS: quantizedInputWords(length),
    QUANTS: quantizedInputQuants(length),
  };
}

export interface QuantizeInputSpec {
  /** Values per token (a multiple of 32). */
  length: number;
  /** Values between tokens in the input (the product's input stride). */
  stride: number;
  /** Quantize the pass's last token alone (the output layer reads nothing else). */
  lastToken?: boolean;
}

export function quantizeInputKernel(spec: QuantizeInputSpec): KernelVariant {
  if (spec.stride % 4) {
    throw new Error(
      `8-bit inputs need an input stride that is a multiple of 4 (got ${spec.stride})`,
    );
  }
  const { source: blockSource, XQS, QUANTS } = q8BlockWriter(spec.length);
  return kernel('quantize-input', blockSource + source, {
    BLOCKS: spec.length / 32,
    XS: spec.stride / 4,
    XQS,
    QUANTS,
    LAST_TOKEN: spec.lastToken ?? false,
    WG: QUANTIZE_WORKGROUP,
  });
}

/** Workgroups along x covering a token's blocks. */
export function quantizeInputWorkgroups(length: number): number {
  return Math.ceil(length / 32 / QUANTIZE_WORKGROUP);
}
