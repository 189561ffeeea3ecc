// Which kernels run passes of more than one token (prefill): the products as a GEMM, with its
// tiles staged in workgroup memory (GPUs) or read straight from the buffers (CPU-backed
// adapters, which load workgroup memory lane by lane like any buffer), or through the
// matrix-vector kernels; attention as the flash-style tiled kernel or as the decode kernels'
// split + reduce over the pass. Chosen by the adapter's class from what was measured
// (docs/performance.md, `npm run bench:prefill`).
import type { AdapterClass } from '../../gpu/probe';
import { CPU_GEMM_TILES, DEFAULT_GEMM_TILES, type GemmTiles } from './kernels/gemm';

export interface PrefillKernels {
  /** The GEMM's tiles; null runs the products through the matrix-vector kernels. */
  gemm: GemmTiles | null;
  /** Flash-style tiled attention; false runs the decode attention over the pass's tokens. */
  tiledAttention: boolean;
}

/** GPUs: workgroup-memory tiles for the products and for attention. */
export const GPU_PREFILL: PrefillKernels = { gemm: DEFAULT_GEMM_TILES, tiledAttention: true };

/**
 * CPU-backed adapters: the GEMM read straight from the buffers; the decode attention, which on
 * lavapipe ran 1.7x (128-token prompt) to 2.6x (512) faster than the tiled kernel.
 */
export const CPU_PREFILL: PrefillKernels = { gemm: CPU_GEMM_TILES, tiledAttention: false };

/** Every pass through the decode kernels (the exactness tests' baseline). */
export const DECODE_KERNELS_PREFILL: PrefillKernels = { gemm: null, tiledAttention: false };

export function defaultPrefillKernels(adapterClass: AdapterClass): PrefillKernels {
  return adapterClass === 'software' ? CPU_PREFILL : GPU_PREFILL;
}

/** The kernels in words (bench output, the generation stats). */
export function describePrefillKernels(kernels: PrefillKernels): string {
  const gemm = kernels.gemm
    ? `GEMM ${kernels.gemm.tokens}x${kernels.gemm.rows} ${kernels.gemm.staged ? 'staged' : 'unstaged'}`
    : 'matrix-vector kernels';
  return `prefill: ${gemm}, ${kernels.tiledAttention ? 'tiled' : 'split'} attention`;
}
