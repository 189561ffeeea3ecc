// Which kernels run passes of more than one token (prefill): the products as a GEMM, with its
// tiles staged in workgroup memory (GPUs) or read straight from the buffers (CPU-backed
// adapters, which load workgroup memory lane by lane like any buffer), or through the
// matrix-vector kernels; attention as the flash-style tiled kernel, one thread per query, or the
// decode kernels' split + reduce over the pass. Chosen by the adapter's class from what was
// measured (docs/performance.md, `npm run bench:prefill`).
import type { AdapterClass } from '../../gpu/probe';
import { CPU_GEMM_TILES, DEFAULT_GEMM_TILES, type GemmTiles } from './kernels/gemm';

/**
 * How a pass of several tokens runs attention: `tiled`, flash-style with key and value tiles
 * staged in workgroup memory (prefill-attention.wgsl); `per-query`, one thread per query token
 * and head reading the cache straight (query-attention.wgsl); `split`, the decode kernels'
 * split + reduce over the pass's tokens.
 */
export type PrefillAttention = 'tiled' | 'per-query' | 'split';

export interface PrefillKernels {
  /** The GEMM's tiles; null runs the products through the matrix-vector kernels. */
  gemm: GemmTiles | null;
  attention: PrefillAttention;
}

/** GPUs: workgroup-memory tiles for the products and for attention. */
export const GPU_PREFILL: PrefillKernels = { gemm: DEFAULT_GEMM_TILES, attention: 'tiled' };

/**
 * CPU-backed adapters: the GEMM read straight from the buffers; attention one thread per query,
 * on lavapipe 1.5x faster over a 512-token prompt than the decode kernels' split + reduce, which
 * ran 1.7x (128 tokens) to 2.6x (512) faster than the tiled kernel.
 */
export const CPU_PREFILL: PrefillKernels = { gemm: CPU_GEMM_TILES, attention: 'per-query' };

/** Every pass through the decode kernels (the exactness tests' baseline). */
export const DECODE_KERNELS_PREFILL: PrefillKernels = { gemm: null, attention: 'split' };

export function defaultPrefillKernels(adapterClass: AdapterClass): PrefillKernels {
  return adapterClass === 'software' ? CPU_PREFILL : GPU_PREFILL;
}

/** The kernels in words (bench output, the generation stats). */
export function describePrefillKernels(kernels: PrefillKernels): string {
  const gemm = kernels.gemm
    ? `GEMM ${kernels.gemm.tokens}x${kernels.gemm.rows} ${kernels.gemm.staged ? 'staged' : 'unstaged'}`
    : 'matrix-vector kernels';
  return `prefill: ${gemm}, ${kernels.attention} attention`;
}
