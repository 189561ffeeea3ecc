// Which workgroup the per-token passes (RMSNorm, RoPE) run with on each class of adapter.
import { describe, expect, it } from 'vitest';
import {
  CPU_PASS_WORKGROUP,
  GPU_PASS_WORKGROUP,
  passWorkgroup,
} from '../../src/engine/gguf/kernels/pass-workgroup';
import { rmsNormKernel } from '../../src/engine/gguf/kernels/rms-norm';

describe('per-token passes by adapter class', () => {
  it('CPU-backed adapters run one SIMD vector of 8 threads, GPUs 64', () => {
    expect(passWorkgroup('software')).toBe(CPU_PASS_WORKGROUP);
    expect(CPU_PASS_WORKGROUP).toBe(8);
    for (const adapterClass of ['discrete', 'integrated', 'unknown'] as const) {
      expect(passWorkgroup(adapterClass)).toBe(GPU_PASS_WORKGROUP);
    }
    expect(GPU_PASS_WORKGROUP).toBe(64);
  });

  it('the RMSNorm kernel is specialised by its workgroup', () => {
    const spec = { length: 576, normIndex: 0, eps: 1e-5 };
    expect(rmsNormKernel(spec).key).toBe(rmsNormKernel({ ...spec, workgroup: 64 }).key);
    expect(rmsNormKernel({ ...spec, workgroup: 8 }).key).not.toBe(rmsNormKernel(spec).key);
    expect(rmsNormKernel({ ...spec, workgroup: 8 }).code).toContain('const WG = 8u;');
  });
});
