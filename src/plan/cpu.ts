// The CPU engine (llama.cpp in WebAssembly) as the planner sees it: threads, memory and a
// measured read rate in, a predicted decode speed out, and the choice between it and the GPU
// plan: whichever is predicted faster, the CPU on a software (fallback) adapter or with no WebGPU
// at all, unless the person chose an engine.
import type { ModelHeader } from '../engine/gguf/types.ts';
import { kvBytesPerToken, mib } from './accounting.ts';
import { DEFAULT_CONTEXT_TOKENS } from './planner.ts';
import type { AdapterClass, EngineChoice, Figure, Plan } from './types.ts';

export interface CpuDescription {
  name: string;
  /** Logical cores the browser reports (navigator.hardwareConcurrency). */
  logicalCores: number;
  /** Whether the page is cross-origin isolated, which threads (SharedArrayBuffer) need. */
  isolated: boolean;
  /** Host memory (navigator.deviceMemory, which browsers cap at 8 GiB). */
  memory: Figure;
  /**
   * Bytes of linear memory llama.cpp can address: 4 GiB for wasm32; wllama's memory64 build
   * lifts that to the 16 GiB Chromium allows a memory64 instance.
   */
  addressSpaceBytes: number;
  /** Bytes per second one thread reads from a large array (a short calibration). */
  readRate: Figure;
  /**
   * Bytes per second a thread per core reads together, meeting at a barrier after every small
   * step as llama.cpp's threads do; null where not measured (no isolation, one core).
   */
  threadedReadRate: Figure | null;
}

export const WASM32_ADDRESS_SPACE = 4 * 2 ** 30;
export const WASM64_ADDRESS_SPACE = 16 * 2 ** 30;

/**
 * Of the calibrated read rate (one thread's, or the threads' together), the share llama.cpp's
 * WebAssembly build turns into decode bytes per second (its quantized dot products use SIMD but
 * are not as memory-bound as native code). Set from the `npm run bench:browser` runs in
 * docs/performance.md, which print the efficiency each run implies: 0.073 and 0.12 with the
 * calibration in workers on the loaded 2-core test machine; 0.1 sits between them.
 */
export const CPU_EFFICIENCY = 0.1;

/**
 * Threads llama.cpp gets: one without isolation; else one per core, unless a thread per core was
 * measured reading slower together than one thread alone (cores busy with other work, where
 * threads that spin at every barrier mostly wait for one another).
 */
export function cpuThreads(
  cpu: Pick<CpuDescription, 'logicalCores' | 'isolated' | 'readRate' | 'threadedReadRate'>,
): number {
  if (!cpu.isolated || cpu.logicalCores < 2) return 1;
  if (threadsContended(cpu)) return 1;
  return cpu.logicalCores;
}

function threadsContended(cpu: Pick<CpuDescription, 'readRate' | 'threadedReadRate'>): boolean {
  return cpu.threadedReadRate !== null && cpu.threadedReadRate.value < cpu.readRate.value;
}

/** Bytes per second the CPU engine's threads read together: measured, or one thread's times threads. */
function combinedReadRate(cpu: CpuDescription, threads: number): number {
  const linear = cpu.readRate.value * threads;
  if (threads < 2 || !cpu.threadedReadRate) return linear;
  return Math.min(linear, cpu.threadedReadRate.value);
}

export interface CpuPrediction {
  decodeTokensPerSecond: number;
  threads: number;
  /** Model weights plus the KV cache at the plan's context. */
  bytes: number;
  /** Why the CPU engine cannot hold the model, or null. */
  problem: string | null;
}

/**
 * Bytes decode reads per token: every weight once, except the embedding (one row, unless it is
 * also the output layer), plus the KV cache up to `decodePosition`.
 */
export function cpuBytesPerToken(header: ModelHeader, decodePosition = 256): number {
  const weights = header.tensors.reduce((sum, t) => sum + t.bytes, 0);
  const embedding = header.tensors.find((t) => t.name === 'token_embd.weight');
  const tied = !header.tensors.some((t) => t.name === 'output.weight');
  const vocab = header.hparams.vocabSize;
  const embeddingSkipped = embedding && !tied ? embedding.bytes - embedding.bytes / vocab : 0;
  return weights - embeddingSkipped + kvBytesPerToken(header) * decodePosition;
}

export function predictCpu(
  header: ModelHeader,
  cpu: CpuDescription,
  contextTokens: number,
  decodePosition = 256,
): CpuPrediction {
  const weights = header.tensors.reduce((sum, t) => sum + t.bytes, 0);
  const bytesPerToken = cpuBytesPerToken(header, decodePosition);
  const threads = cpuThreads(cpu);
  const rate = combinedReadRate(cpu, threads) * CPU_EFFICIENCY;
  const bytes = weights + kvBytesPerToken(header) * contextTokens;
  const limit = Math.min(cpu.addressSpaceBytes, cpu.memory.value);
  const problem =
    bytes > limit
      ? `The CPU engine would need ${mib(bytes)} (weights and KV cache), more than the ${mib(limit)} it can use here (${cpu.addressSpaceBytes <= limit ? 'the WebAssembly address space' : 'host memory'}).`
      : null;
  return {
    decodeTokensPerSecond: bytesPerToken > 0 ? rate / bytesPerToken : 0,
    threads,
    bytes,
    problem,
  };
}

/**
 * The efficiency a measured CPU engine run implies: the share of the calibrated read rate (per
 * thread, times the threads it ran) that came out as decode bytes. `npm run bench:browser` prints
 * it beside each run, and CPU_EFFICIENCY is set from those figures.
 */
export function impliedCpuEfficiency(
  header: ModelHeader,
  cpu: CpuDescription,
  measuredDecodeTokensPerSecond: number,
  decodePosition = 256,
): number {
  const read = combinedReadRate(cpu, cpuThreads(cpu));
  return (measuredDecodeTokensPerSecond * cpuBytesPerToken(header, decodePosition)) / read;
}

const tokS = (value: number) => `${value >= 10 ? value.toFixed(0) : value.toPrecision(2)} tok/s`;

export interface EngineInputs {
  header: ModelHeader;
  /** The GPU plan, or null with no WebGPU adapter at all. */
  gpuPlan: Plan | null;
  /** The class of the adapter the GPU plan is for. */
  adapterClass?: AdapterClass;
  cpu: CpuDescription;
  /** The person's choice; `auto` (the default) lets the planner pick. */
  override?: 'auto' | 'gpu' | 'cpu';
}

/** Which engine runs the model, why, and both predictions. */
export function chooseEngine(inputs: EngineInputs): EngineChoice {
  const { header, gpuPlan, cpu } = inputs;
  const context =
    gpuPlan?.contextTokens ?? Math.min(header.hparams.contextLength, DEFAULT_CONTEXT_TOKENS);
  const predicted = predictCpu(header, cpu, context);
  const gpuSpeed = gpuPlan && gpuPlan.fits !== 'none' ? gpuPlan.predicted.decodeTokensPerSecond : 0;
  const isolation = !cpu.isolated
    ? '1 thread (the page is not cross-origin isolated, so no more)'
    : cpu.logicalCores > 1 && threadsContended(cpu)
      ? '1 thread (a thread per core was measured reading slower together than one alone: the cores are busy with other work)'
      : `${predicted.threads} thread${predicted.threads === 1 ? '' : 's'}`;
  const cpuSays = predicted.problem
    ? predicted.problem
    : `the CPU engine is predicted at ${tokS(predicted.decodeTokensPerSecond)} on ${isolation}`;
  const gpuSays = !gpuPlan
    ? 'there is no WebGPU adapter'
    : gpuPlan.fits === 'none'
      ? 'the GPU plan does not fit'
      : `the GPU plan is predicted at ${tokS(gpuSpeed)}${inputs.adapterClass === 'software' ? ' on a software (fallback) adapter' : ''}`;
  const result = (engine: 'gpu' | 'cpu', why: string): EngineChoice => ({
    engine,
    cpuDecodeTokensPerSecond: predicted.decodeTokensPerSecond,
    threads: predicted.threads,
    cpuProblem: predicted.problem,
    reason: `${engine === 'cpu' ? 'CPU engine (llama.cpp in WebAssembly)' : 'GPU engine (WebGPU)'}: ${why}; ${gpuSays}, ${cpuSays}.`,
  });
  if (inputs.override === 'gpu' || inputs.override === 'cpu') {
    return result(inputs.override, 'chosen in Settings');
  }
  if (!gpuPlan) return result('cpu', 'no WebGPU here');
  if (predicted.problem) return result('gpu', 'the CPU engine cannot hold the model');
  if (gpuPlan.fits === 'none') return result('cpu', 'the model does not fit the GPU');
  if (inputs.adapterClass === 'software') {
    return result('cpu', 'the GPU is a software adapter, which runs on the same CPU more slowly');
  }
  return predicted.decodeTokensPerSecond > gpuSpeed
    ? result('cpu', 'predicted faster')
    : result('gpu', 'predicted faster');
}

/**
 * The GPU plan with the engine choice added: its engine, the CPU prediction and the reason. On the
 * CPU engine the verdict is the CPU engine's, which holds the whole model or cannot run it, and a
 * refusal's reason comes last, where a refusal's reason always is.
 */
export function withEngineChoice(plan: Plan, choice: EngineChoice): Plan {
  const onCpu = choice.engine === 'cpu';
  return {
    ...plan,
    fits: onCpu ? (choice.cpuProblem ? 'none' : 'full') : plan.fits,
    engine: choice.engine,
    predicted: { ...plan.predicted, cpuDecodeTokensPerSecond: choice.cpuDecodeTokensPerSecond },
    engineChoice: choice,
    // First: which engine runs the model is the plan's headline.
    reasons: [
      choice.reason,
      ...plan.reasons,
      ...(onCpu && choice.cpuProblem ? [choice.cpuProblem] : []),
    ],
  };
}

/** The decode speed predicted for the engine a plan runs on. */
export function predictedDecodeRate(plan: Plan): number {
  return plan.engine === 'cpu'
    ? (plan.predicted.cpuDecodeTokensPerSecond ?? 0)
    : plan.predicted.decodeTokensPerSecond;
}

/**
 * A CPU description file (devices/cpu-*.json): `{ "name", "logicalCores", "isolated",
 * "memoryMiB", "addressSpace": "wasm32" | "wasm64", "readGBps" }`, and optionally
 * `"threadedReadGBps"` (a thread per core reading together).
 */
export function parseCpuFile(json: unknown, file: string): CpuDescription {
  const o = (json ?? {}) as Record<string, unknown>;
  const number = (key: string) => {
    const v = o[key];
    if (typeof v !== 'number' || !(v > 0)) {
      throw new Error(`${file}: "${key}" must be a positive number, got ${JSON.stringify(v)}.`);
    }
    return v;
  };
  if (typeof o.name !== 'string') throw new Error(`${file}: "name" must be a string.`);
  if (typeof o.isolated !== 'boolean')
    throw new Error(`${file}: "isolated" must be true or false.`);
  if (o.addressSpace !== 'wasm32' && o.addressSpace !== 'wasm64') {
    throw new Error(`${file}: "addressSpace" must be "wasm32" or "wasm64".`);
  }
  return {
    name: o.name,
    logicalCores: Math.floor(number('logicalCores')),
    isolated: o.isolated,
    memory: { value: number('memoryMiB') * 2 ** 20, source: 'user', detail: `from ${file}` },
    addressSpaceBytes: o.addressSpace === 'wasm32' ? WASM32_ADDRESS_SPACE : WASM64_ADDRESS_SPACE,
    readRate: { value: number('readGBps') * 1e9, source: 'user', detail: `from ${file}` },
    threadedReadRate:
      o.threadedReadGBps === undefined
        ? null
        : { value: number('threadedReadGBps') * 1e9, source: 'user', detail: `from ${file}` },
  };
}

/**
 * The plan where there is no WebGPU adapter at all: everything on the CPU engine, at the wished
 * context (the model's own, up to DEFAULT_CONTEXT_TOKENS, by default). It fits when the CPU engine can hold it.
 */
export function cpuOnlyPlan(
  header: ModelHeader,
  cpu: CpuDescription,
  contextTokens = Math.min(header.hparams.contextLength, DEFAULT_CONTEXT_TOKENS),
): Plan {
  const choice = chooseEngine({ header, gpuPlan: null, cpu });
  const predicted = predictCpu(header, cpu, contextTokens);
  const none = { weights: 0, kv: 0, scratch: 0, slots: 0, total: 0 };
  const weights = header.tensors.reduce((sum, t) => sum + t.bytes, 0);
  return {
    fits: predicted.problem ? 'none' : 'full',
    precision: { compute: 'f32', weights: 'file' },
    kvType: 'f16',
    contextTokens,
    layers: { total: header.hparams.blockCount, resident: 0, streamed: 0, devices: [] },
    bytes: { gpu: none, host: { weights } },
    kvBytesPerToken: kvBytesPerToken(header),
    predicted: {
      decodeTokensPerSecond: 0,
      bound: 'compute',
      computeSeconds: 0,
      uploadSeconds: 0,
      overheadSeconds: 0,
      weightBytesPerToken: 0,
      streamedBytesPerToken: 0,
      cpuDecodeTokensPerSecond: choice.cpuDecodeTokensPerSecond,
    },
    smallerQuantization: null,
    reasons: predicted.problem ? [choice.reason, predicted.problem] : [choice.reason],
    engine: 'cpu',
    engineChoice: choice,
  };
}
