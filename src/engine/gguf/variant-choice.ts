// Which kernel variants the engine runs on an adapter: a few candidates picked from what the adapter
// is (CPU-backed or a real GPU), then, at load, the fastest of them by a short timing of the model's
// own first layer, remembered per adapter and model shape so the next load skips the timing.
// The knobs: the matrix-vector kernels' threads per output row (`lanesPerRow`), and the one-token
// kernel's rows per thread and workgroup size.
import { classifyAdapter, type AdapterClass, type AdapterNames } from '../../gpu/probe';
import type { ComputePrecision } from './buffer-plan';
import type { ModelHeader } from './types';

export interface VariantChoice {
  /**
   * Threads that share one output row of the matrix-vector kernels, one-token and several-token
   * alike, so a token's products reduce in the same order whether it was decoded or prefilled.
   */
  lanesPerRow: number;
  /** Rows each thread of the one-token kernel holds, sharing its reads of the input. */
  rowsPerThread: number;
  /** Threads per workgroup of the one-token kernel. */
  workgroupSize: number;
}

/**
 * Remembered choices by key (IndexedDB in the browser through src/store; memory elsewhere). What
 * it returns is only used when it equals a current candidate.
 */
export interface VariantCache {
  get(key: string): Promise<unknown>;
  set(key: string, choice: VariantChoice): Promise<void>;
}

/** What one device's load tunes over and where it remembers the result. */
export interface VariantTuning {
  candidates: VariantChoice[];
  /** The adapter and model shape the choice holds for (see `tuningKey`). */
  key: string;
  cache?: VariantCache;
}

/**
 * How a load came to its variants: forced by the caller, remembered, timed, the only candidate,
 * or the kernels' default where the load asked for no tuning.
 */
export type VariantSource = 'forced' | 'cached' | 'autotuned' | 'only candidate' | 'default';

export interface ChosenVariants {
  choice: VariantChoice;
  source: VariantSource;
  /** Median milliseconds of each candidate, in candidate order (autotuned only). */
  timings?: { choice: VariantChoice; ms: number }[];
}

/** The names `classifyAdapter` reads, from what WebGPU reports of an opened device's adapter. */
export function adapterNames(info: GPUAdapterInfo): AdapterNames {
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter,
  };
}

/** A choice in short: lanes per row / rows per thread / threads per workgroup. */
function shortName(c: VariantChoice): string {
  return `${c.lanesPerRow}/${c.rowsPerThread}/${c.workgroupSize}`;
}

function choice(lanesPerRow: number, rowsPerThread = 1, workgroupSize = 64): VariantChoice {
  return { lanesPerRow, rowsPerThread, workgroupSize };
}

/**
 * CPU-backed adapters (SwiftShader, lavapipe, llvmpipe): one lane and one row per thread, nothing
 * to time. One lane, as their prefill GEMM sums each row in one thread (prefill-kernels.ts), so a
 * decoded token's products equal a prefilled one's bit for bit. One row, as more rows per thread
 * (4 in 16- or 64-thread workgroups, 8 in 32) won on lavapipe while a layer's weights stayed in
 * the CPU's caches, as they do in the load's first-layer timing, but lost (8-26% with 4 rows,
 * 35-70% with 8) once every layer's weights streamed from memory; four lanes of four rows ran
 * fastest there but reduce otherwise than the GEMM (docs/performance.md, "Rows per thread").
 */
const SOFTWARE_CANDIDATES: readonly VariantChoice[] = [choice(1)];

/**
 * Real GPUs want neighbouring threads on neighbouring blocks of a row for coalesced reads: 16
 * lanes lead, 8 and 32 around them, one row per thread.
 */
const GPU_CANDIDATES: readonly VariantChoice[] = [choice(16), choice(8), choice(32)];

/** The candidates for an adapter, its default first. */
export function variantCandidates(adapter: AdapterNames): VariantChoice[] {
  return classCandidates(classifyAdapter(adapter).class);
}

/** The candidates for a class of adapter, its default first. */
export function classCandidates(adapterClass: AdapterClass): VariantChoice[] {
  return [...(adapterClass === 'software' ? SOFTWARE_CANDIDATES : GPU_CANDIDATES)];
}

/** Every choice `variantCandidates` can offer on some adapter (the exactness tests force each). */
export const ALL_VARIANT_CHOICES: readonly VariantChoice[] = [
  ...SOFTWARE_CANDIDATES,
  ...GPU_CANDIDATES,
];

/**
 * What a load forced to `lanesPerRow` lanes per row runs (`--lanes`, tests): the one-token
 * kernel's defaults.
 */
export function lanesOnlyChoice(lanesPerRow: number): VariantChoice {
  return choice(lanesPerRow);
}

/** Bumped when the candidates or the kernels they choose between change, so old choices retune. */
const TUNING_VERSION = 2;

/** The key a choice is remembered under: the adapter, the compute precision and the model's shape. */
export function tuningKey(
  adapter: AdapterNames,
  header: Pick<ModelHeader, 'hparams' | 'tensors'>,
  precision: ComputePrecision,
): string {
  const h = header.hparams;
  const types = [...new Set(header.tensors.map((t) => t.type))].sort((a, b) => a - b);
  return [
    `v${TUNING_VERSION}`,
    adapter.vendor,
    adapter.architecture,
    adapter.device,
    adapter.description,
    precision,
    h.architecture,
    `L${h.blockCount} E${h.embeddingLength} F${h.feedForwardLength}`,
    `H${h.headCount}/${h.headCountKv} D${h.keyLength}/${h.valueLength} V${h.vocabSize}`,
    `types ${types.join(',')}`,
  ].join('|');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export interface AutotuneOptions {
  /** Timed rounds per candidate, after one untimed warm-up (first dispatches compile). */
  rounds?: number;
  /**
   * How much faster than the default (the first candidate) another must be to replace it, as a
   * fraction, so timing noise does not swap variants from load to load.
   */
  margin?: number;
}

/**
 * The fastest candidate by the median of `rounds` timings (`measure` returns milliseconds),
 * candidates interleaved round by round so a slow moment of the machine hits all of them.
 */
export async function autotune(
  candidates: readonly VariantChoice[],
  measure: (choice: VariantChoice) => Promise<number>,
  options: AutotuneOptions = {},
): Promise<ChosenVariants> {
  if (candidates.length === 0) throw new Error('there is no kernel variant to choose from');
  if (candidates.length === 1) return { choice: candidates[0], source: 'only candidate' };
  const rounds = options.rounds ?? 3;
  const margin = options.margin ?? 0.05;
  for (const c of candidates) await measure(c);
  const times = candidates.map((): number[] => []);
  for (let r = 0; r < rounds; r++) {
    for (const [i, c] of candidates.entries()) times[i].push(await measure(c));
  }
  const medians = times.map(median);
  let best = 0;
  for (let i = 1; i < candidates.length; i++) {
    if (medians[i] < medians[best] && medians[i] < medians[0] * (1 - margin)) best = i;
  }
  return {
    choice: candidates[best],
    source: 'autotuned',
    timings: candidates.map((choice, i) => ({ choice, ms: medians[i] })),
  };
}

/** A value as JSON with object keys sorted, so equal choices compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/**
 * The variants for one load: the remembered choice when it is still a candidate, else the
 * autotuned one (then remembered).
 */
export async function chooseVariants(
  tuning: VariantTuning,
  measure: (choice: VariantChoice) => Promise<number>,
  options?: AutotuneOptions,
): Promise<ChosenVariants> {
  const cached = canonical(await tuning.cache?.get(tuning.key));
  const known = tuning.candidates.find((c) => canonical(c) === cached);
  if (known) return { choice: known, source: 'cached' };
  const chosen = await autotune(tuning.candidates, measure, options);
  if (chosen.source === 'autotuned') await tuning.cache?.set(tuning.key, chosen.choice);
  return chosen;
}

/** The choice in words, for the bench and the engine's stats. */
export function describeVariants(chosen: ChosenVariants): string {
  const c = chosen.choice;
  const timings = chosen.timings
    ?.map((t) => `${shortName(t.choice)}: ${t.ms.toFixed(2)} ms`)
    .join(', ');
  return (
    `${c.lanesPerRow} lanes per row, one-token kernel ${c.rowsPerThread} rows per thread in ` +
    `${c.workgroupSize}-thread workgroups (${chosen.source}${timings ? `; lanes/rows/threads ${timings}` : ''})`
  );
}

/** A cache for one process (the Node entry points). */
export function memoryVariantCache(): VariantCache {
  const choices = new Map<string, unknown>();
  return {
    get: async (key) => choices.get(key),
    set: async (key, choice) => void choices.set(key, choice),
  };
}
