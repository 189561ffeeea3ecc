// The arithmetic of `npm run bench:compare`, kept pure so it can be tested: medians and spreads of
// repeated runs, the memory bound (bytes a decode token must read x tokens per second, against the
// machine's measured read bandwidth) and the ratios issue 10's "done when" names.

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median: how far repeats disagree. */
  relative: number;
  count: number;
}

export function median(values: readonly number[]): number {
  if (!values.length) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function spread(values: readonly number[]): Spread {
  const m = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { median: m, min, max, relative: m > 0 ? (max - min) / m : 0, count: values.length };
}

/** GB/s a decoder reads when every token reads `bytesPerToken` of weights. */
export function achievedGBps(bytesPerToken: number, tokensPerSecond: number): number {
  return (bytesPerToken * tokensPerSecond) / 1e9;
}

/** The measured read bandwidth for `threads` threads: the figure for the most threads not above. */
export function bandwidthFor(threads: number, measured: ReadonlyMap<number, number>): number {
  const counts = [...measured.keys()].sort((a, b) => a - b);
  if (!counts.length) throw new Error('no bandwidth measured');
  const usable = counts.filter((n) => n <= threads);
  return measured.get(usable.length ? usable[usable.length - 1] : counts[0])!;
}

export interface RunSample {
  model: string;
  contender: string;
  prompt: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

export interface RunSummary {
  model: string;
  contender: string;
  prompt: number;
  prefill: Spread;
  decode: Spread;
}

/** One summary per (model, contender, prompt length), in the order first seen. */
export function summarize(samples: readonly RunSample[]): RunSummary[] {
  const groups = new Map<string, RunSample[]>();
  for (const s of samples) {
    const key = `${s.model}\u0000${s.contender}\u0000${s.prompt}`;
    const group = groups.get(key) ?? [];
    group.push(s);
    groups.set(key, group);
  }
  return [...groups.values()].map((g) => ({
    model: g[0].model,
    contender: g[0].contender,
    prompt: g[0].prompt,
    prefill: spread(g.map((s) => s.prefillTokensPerSecond)),
    decode: spread(g.map((s) => s.decodeTokensPerSecond)),
  }));
}

/** A contender's decode rate over all its prompt lengths (median of every repeat). */
export function decodeMedian(
  samples: readonly RunSample[],
  model: string,
  contender: string,
): number | undefined {
  const rates = samples
    .filter((s) => s.model === model && s.contender === contender)
    .map((s) => s.decodeTokensPerSecond);
  return rates.length ? median(rates) : undefined;
}

export function prefillMedian(
  samples: readonly RunSample[],
  model: string,
  contender: string,
  prompt: number,
): number | undefined {
  const rates = samples
    .filter((s) => s.model === model && s.contender === contender && s.prompt === prompt)
    .map((s) => s.prefillTokensPerSecond);
  return rates.length ? median(rates) : undefined;
}

export interface Criterion {
  name: string;
  /** The measured figure, or undefined when this run did not measure it. */
  value: number | undefined;
  target: string;
  met: boolean | undefined;
}

export interface EngineStructure {
  /** Weight bytes one decode token reads, as the engine counts its dispatches. */
  weightBytesPerToken: number;
  /** Bytes of the tensors a decode token needs (all but the untied embedding, plus one row). */
  modelDecodeBytes: number;
  /** queue.submit calls per decode token, counted on the device. */
  submissionsPerToken: number;
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || b === 0 ? undefined : a / b;
}

function atLeast(value: number | undefined, floor: number): boolean | undefined {
  return value === undefined ? undefined : value >= floor;
}

/**
 * Issue 10's "done when" for `ours` (lavapipe f32) against `reference` (wllama with 2 threads), on
 * one model: prefill at 512 tokens against our own decode and against the reference's prefill,
 * decode against the reference's, weight bytes per decode token and submissions per decode token.
 */
export function doneWhen(
  samples: readonly RunSample[],
  model: string,
  ours: string,
  reference: string,
  structure: EngineStructure | undefined,
): Criterion[] {
  const prefill512 = prefillMedian(samples, model, ours, 512);
  const ownDecode = decodeMedian(samples, model, ours);
  const bytesRatio = structure && structure.weightBytesPerToken / structure.modelDecodeBytes;
  const submissions = structure?.submissionsPerToken;
  return [
    {
      name: `${ours} prefill@512 / own decode`,
      value: ratio(prefill512, ownDecode),
      target: '>= 10',
      met: atLeast(ratio(prefill512, ownDecode), 10),
    },
    {
      name: `${ours} prefill@512 / ${reference} prefill@512`,
      value: ratio(prefill512, prefillMedian(samples, model, reference, 512)),
      target: '>= 2',
      met: atLeast(ratio(prefill512, prefillMedian(samples, model, reference, 512)), 2),
    },
    {
      name: `${ours} decode / ${reference} decode`,
      value: ratio(ownDecode, decodeMedian(samples, model, reference)),
      target: '>= 1',
      met: atLeast(ratio(ownDecode, decodeMedian(samples, model, reference)), 1),
    },
    {
      name: 'weight bytes per decode token / model decode bytes',
      value: bytesRatio,
      target: '0.95 to 1.05',
      met: bytesRatio === undefined ? undefined : Math.abs(bytesRatio - 1) <= 0.05,
    },
    {
      name: 'submissions per decode token',
      value: submissions,
      target: '1',
      met: submissions === undefined ? undefined : submissions === 1,
    },
  ];
}
