// The adapter limits and features that decide what an LLM can do here, with what each means.

export interface LimitExplanation {
  name: string;
  /** How to show the value: a byte count or a plain number. */
  kind: 'bytes' | 'count';
  meaning: string;
}

export const LLM_LIMITS: LimitExplanation[] = [
  {
    name: 'maxStorageBufferBindingSize',
    kind: 'bytes',
    meaning: 'largest weight matrix one kernel can read at once; bigger tensors must be split',
  },
  {
    name: 'maxBufferSize',
    kind: 'bytes',
    meaning: 'largest single GPU buffer',
  },
  {
    name: 'maxComputeWorkgroupStorageSize',
    kind: 'bytes',
    meaning: 'fast shared memory per workgroup, used by matrix and attention kernels',
  },
  {
    name: 'maxStorageBuffersPerShaderStage',
    kind: 'count',
    meaning: 'buffers one kernel can bind (WebLLM needs 10)',
  },
  {
    name: 'maxComputeInvocationsPerWorkgroup',
    kind: 'count',
    meaning: 'threads per workgroup',
  },
  {
    name: 'maxComputeWorkgroupsPerDimension',
    kind: 'count',
    meaning: 'workgroups per dispatch dimension',
  },
  {
    name: 'maxBindGroups',
    kind: 'count',
    meaning: 'bind groups per pipeline',
  },
];

export const LLM_FEATURES: { name: string; meaning: string }[] = [
  { name: 'shader-f16', meaning: 'half-precision arithmetic: half the memory traffic of f32' },
  { name: 'subgroups', meaning: 'fast reductions across a group of threads' },
  { name: 'timestamp-query', meaning: 'GPU timing for calibration and benchmarks' },
];
