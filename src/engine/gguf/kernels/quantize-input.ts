// 8-bit inputs: the products whose weights are Q8_0, Q5_0, Q4_0 or IQ4_NL read their input
// quantized as llama.cpp's CPU backend quantizes it for them (Q8_0; quantize-input.wgsl, once per
// token), those over Q3_K to Q6_K and IQ4_XS as it quantizes theirs (Q8_K; the table of types is
// dequant.ts's), and sum with integer dot products
// (`dot_q8` in common.wgsl). On CPU-backed adapters, where every value loaded costs more than the
// arithmetic it feeds, a quarter of the input's loads and no int8-to-float conversions made such
// a product 2x faster in isolation and lavapipe's decode 1.4x, its prefill 1.5x
// (docs/performance.md, "8-bit inputs for Q8_0 products").
import { kernel, type KernelVariant } from './pipeline';
import quantizeBlockSource from './quantize-block.wgsl?raw';
import source from './quantize-input.wgsl?raw';

/** Threads per workgroup, one per block of 32 values (Q8_0) or of 256 (Q8_K). */
export const QUANTIZE_WORKGROUP = 32;

/**
 * How llama.cpp's CPU backend quantizes a product's input: Q8_0 (blocks of 32, an f16 scale each)
 * for Q8_0, Q5_0, Q4_0 and IQ4_NL weights, Q8_K (blocks of 256, an f32 scale) for K-quants and
 * IQ4_XS.
 */
export type InputFormat = 'q8_0' | 'q8_k';

/** Values per block whose quants share a scale. */
const FORMAT_BLOCK: Record<InputFormat, number> = { q8_0: 32, q8_k: 256 };

/** Words per token of one vector region of a value per block of 32, padded to whole vectors. */
function perBlockWords(length: number): number {
  return Math.ceil(length / 32 / 4) * 4;
}

/**
 * Words of one token's quantized input of `length` values: the quants, then a scale per block of
 * 32 (Q8_K: its block of 256's), with Q8_K then the scale times the sum of each block's quants,
 * each region padded to whole vectors of four words (the products read vectors).
 */
export function quantizedInputWords(length: number, format: InputFormat = 'q8_0'): number {
  const regions = format === 'q8_k' ? 2 : 1;
  return quantizedInputQuants(length) + regions * perBlockWords(length);
}

/** Words of a token's quants (its scales follow them). */
export function quantizedInputQuants(length: number): number {
  return length / 4;
}

/** The constants a product reading 8-bit inputs of `length` values needs (product-input.wgsl). */
export function inputQ8Constants(
  length: number,
  format: InputFormat = 'q8_0',
): { XQS4: number; SCALES4: number; SUMS4: number; Q8_SUMS: boolean } {
  const scales = quantizedInputQuants(length);
  return {
    XQS4: quantizedInputWords(length, format) / 4,
    SCALES4: scales / 4,
    SUMS4: (scales + perBlockWords(length)) / 4,
    Q8_SUMS: format === 'q8_k',
  };
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
  /** Absent: Q8_0. */
  format?: InputFormat;
}

export function quantizeInputKernel(spec: QuantizeInputSpec): KernelVariant {
  if (spec.stride % 4) {
    throw new Error(
      `8-bit inputs need an input stride that is a multiple of 4 (got ${spec.stride})`,
    );
  }
  const format = spec.format ?? 'q8_0';
  const block = FORMAT_BLOCK[format];
  if (spec.length % block) {
    throw new Error(
      `${format.toUpperCase()} inputs need a row length that is a multiple of ${block} (got ${spec.length})`,
    );
  }
  const { source: blockSource, QUANTS } = q8BlockWriter(spec.length);
  return kernel('quantize-input', blockSource + source, {
    BLOCKS: spec.length / block,
    XS: spec.stride / 4,
    XQS: quantizedInputWords(spec.length, format),
    QUANTS,
    SUMS: QUANTS + perBlockWords(spec.length),
    Q8_K: format === 'q8_k',
    LAST_TOKEN: spec.lastToken ?? false,
    WG: QUANTIZE_WORKGROUP,
  });
}

/** Workgroups along x covering a token's blocks. */
export function quantizeInputWorkgroups(length: number, format: InputFormat = 'q8_0'): number {
  return Math.ceil(length / FORMAT_BLOCK[format] / QUANTIZE_WORKGROUP);
}
