// The benchmark page: plans a model as the app does (the probe's adapter, default settings, this
// CPU's calibration in workers), then runs it on the engine asked for and reports the engine's own prefill
// and decode rates beside the planner's predictions.
import { loadEngine, WorkerEngine } from '../../../src/engine/client';
import { GREEDY, type GenerationStats } from '../../../src/engine/engine';
import { browserCpuFacts, describeCpu, measureReadRate } from '../../../src/engine/cpu-probe';
import { measureReadRateInWorker, measureThreadedReadRate } from '../../../src/engine/cpu-threads';
import { parseHeader } from '../../../src/engine/gguf/header';
import { openUrlSource } from '../../../src/engine/gguf/source';
import { probeGpu } from '../../../src/gpu/probe';
import { planInputs } from '../../../src/app/models/plan-input';
import { chooseEngine, impliedCpuEfficiency, withEngineChoice } from '../../../src/plan/cpu';
import { planModel } from '../../../src/plan/planner';
import { DEFAULT_SETTINGS } from '../../../src/store/settings';

export interface BenchRun {
  engine: 'gpu' | 'cpu';
  adapter: string;
  threads: number | undefined;
  stats: GenerationStats | null;
  predictedGpu: number;
  predictedCpu: number;
  /** One thread's measured read rate, GB/s (the CPU engine's prediction rests on it). */
  cpuReadGBps: number;
  /** All threads' measured read rate together, GB/s, where measured. */
  cpuThreadedReadGBps: number | null;
  /** Threads the planner would give the CPU engine. */
  plannedThreads: number;
  /** The CPU efficiency this run's decode rate implies (compare CPU_EFFICIENCY). */
  impliedCpuEfficiency: number;
  plannerPicks: 'gpu' | 'cpu';
}

async function run(
  url: string,
  engine: 'gpu' | 'cpu',
  maxTokens: number,
  threads?: number,
): Promise<BenchRun> {
  const header = await parseHeader(await openUrlSource(url));
  const probe = await probeGpu();
  if (probe.status !== 'ok') throw new Error(probe.message);
  const settings = { ...DEFAULT_SETTINGS, contextLength: 512 };
  const { devices, wishes } = planInputs(probe, settings, header.hparams.blockCount);
  const gpuPlan = planModel(header, devices, wishes);
  const facts = browserCpuFacts();
  const cpu = describeCpu(
    facts,
    (await measureReadRateInWorker()) ?? measureReadRate(),
    await measureThreadedReadRate(facts.isolated ? facts.logicalCores : 1),
  );
  const inputs = { header, gpuPlan, adapterClass: devices[0].adapterClass, cpu };
  const planned = chooseEngine(inputs);
  const choice = chooseEngine({ ...inputs, override: engine });
  const plan = withEngineChoice(gpuPlan, { ...choice, threads: threads ?? choice.threads });
  const loaded = await loadEngine(
    { kind: 'gguf', id: url, label: url, source: { type: 'url', url }, plan },
    () => undefined,
  );
  let stats: GenerationStats | null = null;
  try {
    const prompt = 'The quick brown fox jumps over the lazy dog. '.repeat(4);
    for await (const event of loaded.chat([{ role: 'user', content: prompt }], {
      maxTokens,
      sampling: GREEDY,
    })) {
      if (event.type === 'done') stats = event.stats;
    }
  } finally {
    await loaded.unload();
  }
  return {
    engine,
    adapter: devices[0].name,
    threads: loaded instanceof WorkerEngine ? loaded.threads : undefined,
    stats,
    predictedGpu: gpuPlan.predicted.decodeTokensPerSecond,
    predictedCpu: planned.cpuDecodeTokensPerSecond,
    cpuReadGBps: cpu.readRate.value / 1e9,
    cpuThreadedReadGBps: cpu.threadedReadRate ? cpu.threadedReadRate.value / 1e9 : null,
    plannedThreads: planned.threads,
    impliedCpuEfficiency: impliedCpuEfficiency(
      header,
      {
        ...cpu,
        isolated: plan.engineChoice!.threads > 1,
        logicalCores: plan.engineChoice!.threads,
      },
      stats?.decodeTokensPerSecond ?? 0,
      (stats?.promptTokens ?? 0) + (stats?.generatedTokens ?? 0) / 2,
    ),
    plannerPicks: planned.engine,
  };
}

const api = { run };
export type BenchApi = typeof api;
(window as unknown as { bench: BenchApi }).bench = api;
document.body.dataset.ready = 'true';
