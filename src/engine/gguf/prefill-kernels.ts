// Which kernels run passes of more than one token (prefill): the products as a GEMM, with its
// tiles staged in workgroup memory (GPUs) or read straight from the buffers (CPU-backed
// adapters, which load workgroup memory lane by lane like any buffer; where their subgroups
// allow, each weight step read by one lane of a subgroup for all), or through the
// matrix-vector kernels; attention as the flash-style tiled kernel, one thread per query, or the
// decode kernels' split + reduce over the pass. Chosen by the adapter's class from what was
// measured (docs/performance.md, `npm run bench:prefill`).
import type { AdapterClass } from '../../gpu/probe';
import {
  CPU_GEMM_TILES,
  DEFAULT_GEMM_TILES,
  SHARED_WEIGHT_TILES,
  type GemmTiles,
} from './kernels/gemm';
import type { SharedInputLanes } from './kernels/matmul';

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

/**
 * CPU-backed adapters with subgroups of at least 4 or 8 invocations: as `CPU_PREFILL`, each of
 * the GEMM's weight steps read by one lane of a subgroup and shuffled to the others.
 */
export const SHARED_WEIGHT_PREFILL: Record<SharedInputLanes, PrefillKernels> = {
  4: { gemm: SHARED_WEIGHT_TILES[4], attention: 'per-query' },
  8: { gemm: SHARED_WEIGHT_TILES[8], attention: 'per-query' },
};

/** Every pass through the decode kernels (the exactness tests' baseline). */
export const DECODE_KERNELS_PREFILL: PrefillKernels = { gemm: null, attention: 'split' };

/** `lanes`: what subgroups hold on the device (`sharedInputLanes`), undefined without them. */
export function defaultPrefillKernels(
  adapterClass: AdapterClass,
  lanes?: SharedInputLanes,
): PrefillKernels {
  if (adapterClass !== 'software') return GPU_PREFILL;
  return lanes ? SHARED_WEIGHT_PREFILL[lanes] : CPU_PREFILL;
}

/** The kernels in words (bench output, the generation stats). */
export function describePrefillKernels(kernels: PrefillKernels): string {
  const tiles = kernels.gemm;
  const shared = tiles?.sharedWeights ? `, weights shared over ${tiles.sharedWeights} lanes` : '';
  const gemm = tiles
    ? `GEMM ${tiles.tokens}x${tiles.rows} ${tiles.staged ? 'staged' : 'unstaged'}${shared}`
    : 'matrix-vector kernels';
  return `prefill: ${gemm}, ${kernels.attention} attention`;
}
