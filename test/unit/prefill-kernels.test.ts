// Which kernels run prompts on each class of adapter, and how the bench and stats name them.
import { describe, expect, it } from 'vitest';
import {
  CPU_PREFILL,
  GPU_PREFILL,
  DECODE_KERNELS_PREFILL,
  SHARED_WEIGHT_PREFILL,
  defaultPrefillKernels,
  describePrefillKernels,
} from '../../src/engine/gguf/prefill-kernels';

describe('prefill kernels by adapter class', () => {
  it('CPU-backed adapters read the GEMM straight from the buffers and attend one thread per query', () => {
    expect(defaultPrefillKernels('software')).toBe(CPU_PREFILL);
    expect(CPU_PREFILL.gemm?.staged).toBe(false);
    expect(CPU_PREFILL.attention).toBe('per-query');
  });

  it.each([4, 8] as const)(
    'CPU-backed adapters with subgroups of %i share each weight step over that many lanes',
    (lanes) => {
      const kernels = defaultPrefillKernels('software', lanes);
      expect(kernels).toBe(SHARED_WEIGHT_PREFILL[lanes]);
      expect(kernels.gemm).toEqual({
        tokens: 4 * lanes,
        rows: 64,
        k: 8,
        staged: false,
        sharedWeights: lanes,
      });
      expect(kernels.attention).toBe('per-query');
    },
  );

  it.each(['discrete', 'integrated', 'unknown'] as const)(
    '%s GPUs stage the GEMM in workgroup memory and tile attention',
    (adapterClass) => {
      expect(defaultPrefillKernels(adapterClass)).toBe(GPU_PREFILL);
      expect(defaultPrefillKernels(adapterClass, 8)).toBe(GPU_PREFILL);
      expect(GPU_PREFILL.gemm?.staged).toBe(true);
      expect(GPU_PREFILL.attention).toBe('tiled');
    },
  );

  it('names each set of kernels', () => {
    expect(describePrefillKernels(CPU_PREFILL)).toBe(
      'prefill: GEMM 32x64 unstaged, per-query attention',
    );
    expect(describePrefillKernels(GPU_PREFILL)).toBe('prefill: GEMM 32x64 staged, tiled attention');
    expect(describePrefillKernels(SHARED_WEIGHT_PREFILL[8])).toBe(
      'prefill: GEMM 32x64 unstaged, weights shared over 8 lanes, per-query attention',
    );
    expect(describePrefillKernels(DECODE_KERNELS_PREFILL)).toBe(
      'prefill: matrix-vector kernels, split attention',
    );
  });
});
