// `npm run bench:compare [-- --quick] [--json] ...` (see COMPARE_USAGE): our engine on dawn.node
// adapters, llama.cpp on the CPU (node-llama-cpp) and llama.cpp in WebAssembly (wllama, headless
// Chromium) on random-weight GGUFs of real models' shapes, interleaved in one run, each run from
// an empty cache; then the memory bound, our engine's structure and per-kernel profile, and issue
// 10's "done when" ratios. A benchmark, not a test: nothing is asserted.
import { statSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { CliUsageError } from '../../src/cli/args.ts';
import { parseHeader } from '../../src/engine/gguf/header.ts';
import { openFileSource } from '../../src/engine/gguf/source-node.ts';
import { measureReadBandwidth } from './compare/bandwidth.ts';
import {
  decodeWeightBytes,
  EngineContender,
  LlamaCppContender,
  WllamaContender,
  type Contender,
} from './compare/contenders.ts';
import { cardBandwidth, measureCopyBandwidth } from './compare/gpu-bandwidth.ts';
import { benchModel, BENCH_MODELS, ensureBenchModel } from './compare/models.ts';
import { benchPrompts } from './compare/prompts.ts';
import { parseCompareArgs, type CompareOptions, type ContenderSpec } from './compare/options.ts';
import {
  formatReport,
  type CompareReport,
  type ContenderReport,
  type ModelReport,
} from './compare/report.ts';
import { bandwidthFor, doneWhen, summarize, type RunSample } from './compare/stats.ts';
import { WllamaPage } from './compare/wllama.ts';

const log = (line: string) => process.stderr.write(`${line}\n`);

async function decodeBytes(path: string): Promise<number> {
  const source = await openFileSource(path);
  try {
    return decodeWeightBytes((await parseHeader(source)).tensors);
  } finally {
    await source.close();
  }
}

interface Loaded {
  contender: Contender;
  report: ContenderReport;
}

async function loadContender(
  spec: ContenderSpec,
  path: string,
  context: number,
  cpuBandwidth: ReadonlyMap<number, number>,
  wllama: () => Promise<{ page: WllamaPage; url: string }>,
): Promise<Loaded> {
  const start = performance.now();
  const cores = cpus().length;
  let contender: Contender;
  // Our engine on a CPU adapter runs on every core; llama.cpp on its threads.
  let threads: number | undefined = spec.kind === 'engine' ? cores : spec.threads;
  let bound = { gbps: NaN, source: '' };
  if (spec.kind === 'engine') {
    const engine = await EngineContender.load(spec, path, context, cores);
    contender = engine;
    if (!engine.cpuBacked) {
      threads = undefined;
      const card = cardBandwidth(engine.description);
      const copy = await measureCopyBandwidth(engine.gpuDevice);
      bound = card
        ? {
            gbps: card.gbps,
            source: `data sheet /${card.pattern}/; measured copy ${copy.toFixed(0)} GB/s`,
          }
        : { gbps: copy, source: 'measured buffer copy (card not in the table)' };
    }
  } else if (spec.kind === 'llama.cpp') {
    contender = await LlamaCppContender.load(spec, path, context);
  } else {
    const { page, url } = await wllama();
    await page.load(spec.id, url, spec.threads, context);
    contender = new WllamaContender(spec.id, spec.threads, page);
  }
  if (threads !== undefined) {
    const measured = Math.max(...[...cpuBandwidth.keys()].filter((n) => n <= threads!), 1);
    bound = {
      gbps: bandwidthFor(threads, cpuBandwidth),
      source: `memory read, ${measured} thread(s)`,
    };
  }
  return {
    contender,
    report: {
      id: spec.id,
      description: contender.description,
      boundGBps: bound.gbps,
      boundSource: bound.source,
      threads,
      loadMs: performance.now() - start,
    },
  };
}

async function benchModelRun(
  modelId: string,
  options: CompareOptions,
  cpuBandwidth: ReadonlyMap<number, number>,
  wllamaPage: () => Promise<WllamaPage>,
): Promise<ModelReport> {
  const model = benchModel(modelId);
  const path = ensureBenchModel(model, log);
  const context = Math.max(...options.prompts) + options.decode + 8;
  let served: string | undefined;
  const wllama = async () => {
    const page = await wllamaPage();
    served ??= page.serve(path);
    return { page, url: served };
  };
  const loaded: Loaded[] = [];
  const reports: ContenderReport[] = [];
  for (const spec of options.contenders) {
    log(`${modelId}: loading ${spec.id}`);
    try {
      const l = await loadContender(spec, path, context, cpuBandwidth, wllama);
      loaded.push(l);
      reports.push(l.report);
    } catch (error) {
      reports.push({
        id: spec.id,
        description: spec.id,
        boundGBps: NaN,
        boundSource: '-',
        loadMs: 0,
        error: error instanceof Error ? error.message : String(error),
      });
      log(`${modelId}: ${spec.id} failed to load: ${reports.at(-1)!.error}`);
    }
  }
  const prompts = await benchPrompts(path);
  const warmUp = prompts(Math.min(...options.prompts)).ids;
  for (const { contender } of loaded) {
    if (contender instanceof EngineContender) await contender.warmUp(warmUp);
  }
  const samples: RunSample[] = [];
  const failed = new Set<string>();
  const tooSlow = new Set<string>();
  let turn = 0;
  for (let repeat = 0; repeat < options.repeats; repeat++) {
    for (const length of options.prompts) {
      const prompt = prompts(length);
      // Rotate the order so no contender always runs right after the same other one.
      const order = loaded.map((_, i) => loaded[(i + turn) % loaded.length]);
      turn++;
      for (const { contender, report } of order) {
        if (failed.has(contender.id) || tooSlow.has(contender.id)) continue;
        try {
          const started = performance.now();
          const rates = await contender.run(prompt, options.decode);
          const seconds = (performance.now() - started) / 1000;
          if (seconds > options.maxRunSeconds) {
            tooSlow.add(contender.id);
            report.error = `not run again after a run of ${seconds.toFixed(0)} s (--max-run-seconds ${options.maxRunSeconds})`;
          }
          samples.push({ model: modelId, contender: contender.id, prompt: length, ...rates });
          log(
            `${modelId} #${repeat + 1} ${contender.id} prompt ${length}: prefill ` +
              `${rates.prefillTokensPerSecond.toFixed(2)} tok/s, decode ${rates.decodeTokensPerSecond.toFixed(2)} tok/s`,
          );
        } catch (error) {
          failed.add(contender.id);
          report.error = error instanceof Error ? error.message : String(error);
          log(`${modelId}: ${contender.id} failed: ${report.error}`);
        }
      }
    }
  }
  const profilePrompt = prompts(options.prompts.includes(128) ? 128 : options.prompts[0]).ids;
  for (const { contender, report } of loaded) {
    if (!(contender instanceof EngineContender) || failed.has(contender.id)) continue;
    log(
      `${modelId}: structure${options.profile ? ' and per-kernel profile' : ''} of ${contender.id}`,
    );
    report.engine = await contender.details(profilePrompt, 4, options.profile);
  }
  for (const { contender } of loaded) await contender.unload();
  // The done-when figures are issue 10's: lavapipe f32 against wllama on 2 threads.
  const ours = reports.find((r) => r.id === 'lavapipe-f32' && r.engine);
  return {
    id: modelId,
    description: model.description,
    fileBytes: statSync(path).size,
    decodeBytes: await decodeBytes(path),
    contenders: reports,
    summaries: summarize(samples),
    doneWhen: ours
      ? doneWhen(samples, modelId, ours.id, 'wllama-2t', ours.engine!.structure)
      : undefined,
  };
}

async function main(): Promise<void> {
  const options = parseCompareArgs(
    process.argv.slice(2),
    BENCH_MODELS.map((m) => m.id),
  );
  const cores = cpus().length;
  const threadCounts = [...new Set([1, cores])];
  const before = new Map<number, number>();
  for (const n of threadCounts) before.set(n, await measureReadBandwidth(n));
  log(
    `memory read bandwidth: ${[...before].map(([n, g]) => `${n} thread(s) ${g.toFixed(1)} GB/s`).join(', ')}`,
  );
  let page: Promise<WllamaPage> | undefined;
  const wllamaPage = () => (page ??= WllamaPage.open());
  const models: ModelReport[] = [];
  const loadAverage = loadavg();
  try {
    for (const id of options.models) {
      models.push(await benchModelRun(id, options, before, wllamaPage));
    }
  } finally {
    if (page) await (await page).close();
  }
  const after = new Map<number, number>();
  for (const n of threadCounts) after.set(n, await measureReadBandwidth(n));
  // The bound is the better of the two measurements, so a slow moment never flatters a fraction.
  const best = new Map(threadCounts.map((n) => [n, Math.max(before.get(n)!, after.get(n)!)]));
  for (const c of models.flatMap((m) => m.contenders)) {
    if (c.threads !== undefined) c.boundGBps = bandwidthFor(c.threads, best);
  }
  const report: CompareReport = {
    date: new Date().toISOString(),
    command: `npm run bench:compare -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown CPU',
      cores,
      loadAverage: { start: loadAverage, end: loadavg() },
      memoryGiB: totalmem() / 2 ** 30,
    },
    bandwidth: threadCounts.map((n) => ({
      threads: n,
      before: before.get(n)!,
      after: after.get(n)!,
    })),
    prompts: options.prompts,
    decode: options.decode,
    repeats: options.repeats,
    models,
  };
  process.stdout.write(`${options.json ? JSON.stringify(report) : formatReport(report)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof CliUsageError ? 2 : 1);
  },
);
