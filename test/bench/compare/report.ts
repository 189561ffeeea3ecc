// What `npm run bench:compare` prints: per model a table of every contender and prompt length
// (medians with the range of the repeats, decode GB/s and its fraction of the memory bound), our
// engine's structure and per-kernel profile, and issue 10's "done when" ratios. The JSON form
// (`--json`) is the same record.
import type { EngineDetails } from './contenders.ts';
import { achievedGBps, type Criterion, type RunSummary, type Spread } from './stats.ts';

export interface ContenderReport {
  id: string;
  description: string;
  /** GB/s that bounds its decode: the machine's read bandwidth for its threads, or the card's. */
  boundGBps: number;
  boundSource: string;
  /** CPU threads whose measured read bandwidth is the bound; absent for a real GPU. */
  threads?: number;
  loadMs: number;
  error?: string;
  engine?: EngineDetails;
}

export interface ModelReport {
  id: string;
  description: string;
  fileBytes: number;
  /** Bytes of weights a decode token must read. */
  decodeBytes: number;
  contenders: ContenderReport[];
  summaries: RunSummary[];
  doneWhen?: Criterion[];
}

export interface CompareReport {
  date: string;
  command: string;
  machine: {
    cpu: string;
    cores: number;
    loadAverage: { start: number[]; end: number[] };
    memoryGiB: number;
  };
  /** Read bandwidth by thread count, GB/s, before and after the runs. */
  bandwidth: { threads: number; before: number; after: number }[];
  prompts: number[];
  decode: number;
  repeats: number;
  models: ModelReport[];
}

function rate(s: Spread): string {
  const digits = s.median >= 100 ? 0 : s.median >= 10 ? 1 : 2;
  const f = (x: number) => x.toFixed(digits);
  return s.count > 1 ? `${f(s.median)} (${f(s.min)}-${f(s.max)})` : f(s.median);
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => `| ${r.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  return [line(rows[0]), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)];
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function criterionLine(c: Criterion): string {
  const value = c.value === undefined ? 'not measured' : c.value.toPrecision(3);
  const verdict = c.met === undefined ? '' : c.met ? ' MET' : ' NOT MET';
  return `  ${c.name}: ${value} (target ${c.target})${verdict}`;
}

export function formatModel(m: ModelReport): string[] {
  const out = [
    '',
    `## ${m.id}: ${m.description}; file ${mb(m.fileBytes)}, ${mb(m.decodeBytes)} of weights read per decode token`,
  ];
  for (const c of m.contenders) {
    const load = c.error ? `FAILED: ${c.error}` : `loaded in ${(c.loadMs / 1000).toFixed(1)} s`;
    out.push(
      `- ${c.id}: ${c.description}; ${load}; bound ${c.boundGBps.toFixed(1)} GB/s (${c.boundSource})`,
    );
  }
  const rows = [
    ['contender', 'prompt', 'prefill tok/s', 'decode tok/s', 'decode GB/s', 'of bound'],
  ];
  for (const s of m.summaries) {
    const c = m.contenders.find((x) => x.id === s.contender)!;
    const gbps = achievedGBps(m.decodeBytes, s.decode.median);
    rows.push([
      s.contender,
      String(s.prompt),
      rate(s.prefill),
      rate(s.decode),
      gbps.toFixed(2),
      `${((100 * gbps) / c.boundGBps).toFixed(1)}%`,
    ]);
  }
  out.push('', ...table(rows));
  for (const c of m.contenders) {
    const e = c.engine;
    if (!e) continue;
    out.push(
      '',
      `${c.id}: ${e.variant}; weights read per decode token ${mb(e.structure.weightBytesPerToken)} ` +
        `(${(e.structure.weightBytesPerToken / e.structure.modelDecodeBytes).toFixed(3)} x the model's ` +
        `${mb(e.structure.modelDecodeBytes)}); ${e.structure.submissionsPerToken.toFixed(2)} submissions per decode token`,
    );
    if (e.profile) {
      out.push(
        `per-kernel time of one decode token (${e.profile.method}): ${e.profile.totalMs.toFixed(2)} ms`,
      );
      out.push(
        ...table([
          ['kernel', 'dispatches', 'ms', 'share'],
          ...e.profile.kernels.map((k) => [
            k.role,
            String(k.dispatches),
            k.ms.toFixed(3),
            `${(100 * k.share).toFixed(1)}%`,
          ]),
        ]),
      );
    }
  }
  if (m.doneWhen) out.push('', `done when (issue 10), ${m.id}:`, ...m.doneWhen.map(criterionLine));
  return out;
}

export function formatReport(r: CompareReport): string {
  const bw = r.bandwidth
    .map(
      (b) =>
        `${b.threads} thread(s) ${b.before.toFixed(1)} GB/s before, ${b.after.toFixed(1)} GB/s after`,
    )
    .join('; ');
  return [
    `# npm run bench:compare, ${r.date}`,
    `command: ${r.command}`,
    `machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB.toFixed(0)} GiB, ` +
      `load average ${r.machine.loadAverage.start.map((x) => x.toFixed(1)).join(' ')} at the start, ` +
      `${r.machine.loadAverage.end.map((x) => x.toFixed(1)).join(' ')} at the end`,
    `memory read bandwidth (Buffer.compare of 2 x 128 MiB per thread, best round): ${bw}; the bound is the better of the two`,
    `prompts ${r.prompts.join(', ')} tokens, ${r.decode} decoded tokens, ${r.repeats} repeat(s), ` +
      'contenders interleaved; rates are medians (min-max over repeats)',
    ...r.models.flatMap(formatModel),
  ].join('\n');
}
