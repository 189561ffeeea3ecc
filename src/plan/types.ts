// The planner's vocabulary, shared by the UI, the engine and the `plan` CLI: what a device offers,
// what the person wants, and the plan that comes out.

export type AdapterClass = 'discrete' | 'integrated' | 'software' | 'unknown';

/** Where a figure came from, so the UI can say how far to trust it. */
export type FigureSource = 'user' | 'calibration' | 'measured' | 'estimate';

export interface Figure {
  value: number;
  source: FigureSource;
  /** How it was obtained, in words (e.g. "50% of navigator.deviceMemory 8 GiB"). */
  detail: string;
}

/**
 * How the engine's worker asks WebGPU for the adapter a device was described from, and the identity
 * it must find there; absent for devices read from a file or opened by name in Node.
 */
export interface AdapterRequest {
  powerPreference: 'high-performance' | 'low-power';
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

export interface DeviceDescription {
  name: string;
  adapter?: AdapterRequest;
  adapterClass: AdapterClass;
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
  features: string[];
  /** GPU memory the model may use, before the margin is taken off. */
  memoryBudget: Figure;
  /** Host-to-GPU upload bandwidth in bytes per second (queue.writeBuffer). */
  uploadBandwidth: Figure;
  /** Bytes of weights per second the matrix-vector kernels read. */
  computeRate: Figure;
  /**
   * Whether uploads run while kernels compute. True for GPUs with a copy engine; false where the
   * CPU does both (software adapters), so streamed layers cost upload plus compute time.
   */
  uploadOverlapsCompute: boolean;
  /**
   * Fixed seconds per decode token beside moving bytes: one queue submission and the read-back of
   * the sampled token id. Left out where unknown (it matters only for very small models).
   */
  tokenOverhead?: Figure;
}

export type ComputeWish = 'auto' | 'f16' | 'f32';
export type WeightWish = 'auto' | 'file' | 'q8_0';
export type WeightPrecision = 'file' | 'q8_0';
export type ComputePrecision = 'f16' | 'f32';

/** Safety margin kept free: the larger of a fraction of the budget and a fixed number of bytes. */
export interface MarginWish {
  fraction: number;
  minBytes: number;
}

export interface PlanWishes {
  /** Requested context length; default the model's maximum. */
  contextTokens?: number;
  /** Shortest context the planner may shrink to; default 4096, or the model's maximum if lower. */
  contextFloor?: number;
  /** Lowest weight precision acceptable: `int8` allows quantizing F16/BF16/F32 weights to Q8_0. */
  qualityFloor?: 'as-stored' | 'int8';
  /** Default: 10% of the budget, at least 512 MiB. `{fraction: 0, minBytes: 0}` when the budget already excludes it. */
  margin?: MarginWish;
  compute?: ComputeWish;
  weights?: WeightWish;
  /** Forces this many resident layers (one device); the plan still says whether it fits. */
  residentLayers?: number;
  /** Layer ranges pinned by hand, one `[first, last]` per device, contiguous and covering all layers. */
  pinnedLayers?: [number, number][];
  /** Tokens per prefill pass, when the engine is loaded with other than its default. */
  prefillChunk?: number;
  /** Tokens already in the context when predicting decode speed (KV read per token); default 256. */
  decodePosition?: number;
}

export interface GpuBytes {
  weights: number;
  kv: number;
  scratch: number;
  slots: number;
  total: number;
}

export interface DevicePlan {
  name: string;
  /** The adapter to open for this part, with the limits and features the plan was made for. */
  adapter: AdapterRequest | null;
  limits: DeviceDescription['limits'];
  features: string[];
  /** Contiguous transformer layers this device runs, `[first, last]`. */
  layers: [number, number];
  /** The last `resident` layers of the range stay on the GPU; the ones before are streamed. */
  resident: number;
  streamed: number;
  holdsEmbedding: boolean;
  holdsOutput: boolean;
  bytes: GpuBytes;
  /** Host memory for this device's streamed layers (their packed images). */
  hostWeights: number;
  budget: BudgetReport;
}

export interface BudgetReport {
  budget: Figure;
  marginBytes: number;
  /** What the plan may fill: budget minus margin. */
  usableBytes: number;
}

export interface SpeedPrediction {
  decodeTokensPerSecond: number;
  bound: 'compute' | 'upload';
  computeSeconds: number;
  uploadSeconds: number;
  overheadSeconds: number;
  weightBytesPerToken: number;
  streamedBytesPerToken: number;
  /** The CPU engine's predicted decode speed, once the engine choice is made (src/plan/cpu.ts). */
  cpuDecodeTokensPerSecond?: number;
}

/** Which engine runs the model: the GPU plan, or llama.cpp on the CPU. */
export interface EngineChoice {
  engine: 'gpu' | 'cpu';
  cpuDecodeTokensPerSecond: number;
  /** Threads the CPU engine would run on. */
  threads: number;
  /** Why the CPU engine cannot hold the model, or null. */
  cpuProblem: string | null;
  /** Which engine, why, and the predicted figures of both. */
  reason: string;
}

export interface Plan {
  fits: 'full' | 'partial' | 'none';
  precision: { compute: ComputePrecision; weights: WeightPrecision };
  kvType: 'f16';
  contextTokens: number;
  layers: { total: number; resident: number; streamed: number; devices: DevicePlan[] };
  bytes: { gpu: GpuBytes; host: { weights: number } };
  kvBytesPerToken: number;
  predicted: SpeedPrediction;
  /** A smaller quantization of the same model that would run fully resident, when streaming is slow. */
  smallerQuantization: { name: string; weightBytes: number } | null;
  reasons: string[];
  /** Set once the engine choice is made; absent means the GPU engine. */
  engine?: 'gpu' | 'cpu';
  engineChoice?: EngineChoice;
}
