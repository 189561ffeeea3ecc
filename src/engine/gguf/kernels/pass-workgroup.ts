// Threads per workgroup of the per-token passes: the RMSNorm (a workgroup per token), RoPE and the
// decode attention's reduce (a workgroup per head and token). GPUs run 64, for the parallelism
// within a token. CPU-backed adapters run one SIMD vector (lavapipe's 8 lanes): there a barrier
// suspends and resumes every vector of the workgroup and an idle lane costs as much as a busy one
// (the reduce's threads each read every split's maximum and total), so a 512-token prefill's
// RMSNorm passes ran 2x and its RoPE passes 2.7x faster on lavapipe, decode 1.04x with the reduce
// (docs/performance.md).
import type { AdapterClass } from '../../../gpu/probe';

/** A power of two (the RMSNorm halves it in its reduction). */
export type PassWorkgroup = 8 | 64;

export const GPU_PASS_WORKGROUP: PassWorkgroup = 64;
export const CPU_PASS_WORKGROUP: PassWorkgroup = 8;

export function passWorkgroup(adapterClass: AdapterClass): PassWorkgroup {
  return adapterClass === 'software' ? CPU_PASS_WORKGROUP : GPU_PASS_WORKGROUP;
}
