// A bare page around the engine client, so the worker test drives the real module worker from
// page.evaluate without going through the app's views. Plans are made here as the app makes them:
// the GPU probe's report and settings through `planInputs`, then the planner.
import { loadEngine, type LoadedEngine } from '../../../src/engine/client';
import {
  GREEDY,
  type ChatMessage,
  type GenerationStats,
  type LoadProgress,
} from '../../../src/engine/engine';
import { toEngineFailure } from '../../../src/engine/messages';
import { checkSupported, parseHeader } from '../../../src/engine/gguf/header';
import { openUrlSource } from '../../../src/engine/gguf/source';
import type { CarriedOutPlan } from '../../../src/engine/gguf/planned-load';
import { probeGpu, type GpuReport } from '../../../src/gpu/probe';
import { planInputs } from '../../../src/app/models/plan-input';
import { planModel } from '../../../src/plan/planner';
import type { Plan } from '../../../src/plan/types';
import { DEFAULT_SETTINGS, type Settings } from '../../../src/store/settings';

export interface Placement {
  /** Forces this many resident layers (one device). */
  residentLayers?: number;
  /** Plans for two devices: the one adapter offered for both power preferences. */
  twoDevices?: boolean;
}

export interface GreedyRun {
  ids: number[];
  text: string;
  stats: GenerationStats | null;
  progress: LoadProgress[];
  contextTokens: number;
  plan: Plan;
  carriedOut: CarriedOutPlan | null;
  /** Longest gap between main-thread timer ticks while loading and generating, in ms. */
  longestStallMs: number;
}

/**
 * The probe's report as a machine with two adapters would give it, from the one adapter headless
 * Chromium offers: the same code path as two GPUs, on two devices of the one adapter.
 */
function asTwoAdapters(report: GpuReport): GpuReport {
  const [only] = report.adapters;
  return {
    ...report,
    sameAdapter: false,
    adapters: [
      { ...only, preferences: ['high-performance'] },
      { ...only, preferences: ['low-power'] },
    ],
  };
}

async function planFor(url: string, contextTokens: number, placement: Placement): Promise<Plan> {
  const probe = await probeGpu();
  if (probe.status !== 'ok') throw new Error(probe.message);
  const header = await parseHeader(await openUrlSource(url));
  checkSupported(header);
  const settings: Settings = {
    ...DEFAULT_SETTINGS,
    contextLength: contextTokens,
    computePrecision: 'f32',
    weightPrecision: 'file',
    gpuChoice: placement.twoDevices ? 'split' : 'high-performance',
  };
  const report = placement.twoDevices ? asTwoAdapters(probe) : probe;
  const { devices, wishes } = planInputs(report, settings, header.hparams.blockCount);
  return planModel(header, devices, {
    ...wishes,
    contextFloor: contextTokens,
    residentLayers: placement.residentLayers,
  });
}

async function load(
  url: string,
  contextTokens: number,
  onProgress: (p: LoadProgress) => void,
  placement: Placement = {},
) {
  const plan = await planFor(url, contextTokens, placement);
  const engine = await loadEngine(
    { kind: 'gguf', id: url, label: url, source: { type: 'url', url }, plan },
    onProgress,
  );
  return { engine, plan };
}

/** Measures how long the page's own thread was kept from running a 10 ms timer. */
function stallMeter() {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 10);
  return () => {
    clearInterval(timer);
    return longest;
  };
}

async function reply(engine: LoadedEngine, messages: ChatMessage[], maxTokens: number) {
  const ids: number[] = [];
  let text = '';
  let stats: GenerationStats | null = null;
  for await (const event of engine.chat(messages, { maxTokens, sampling: GREEDY })) {
    if (event.type === 'token') {
      ids.push(event.id);
      text += event.text;
    } else stats = event.stats;
  }
  return { ids, text, stats };
}

async function greedy(
  url: string,
  messages: ChatMessage[],
  maxTokens: number,
  contextTokens: number,
  placement: Placement = {},
): Promise<GreedyRun> {
  const progress: LoadProgress[] = [];
  const stop = stallMeter();
  const { engine, plan } = await load(url, contextTokens, (p) => progress.push(p), placement);
  const answer = await reply(engine, messages, maxTokens);
  const longestStallMs = stop();
  await engine.unload();
  return {
    ...answer,
    progress,
    contextTokens: engine.contextTokens,
    plan,
    carriedOut: engine.carriedOut ?? null,
    longestStallMs,
  };
}

/**
 * Two turns on one loaded engine, then the second conversation on a fresh load: the second turn's
 * statistics and both answers to it.
 */
async function twoTurns(
  url: string,
  first: ChatMessage[],
  next: ChatMessage,
  maxTokens: number,
  contextTokens: number,
) {
  const { engine } = await load(url, contextTokens, () => undefined);
  const one = await reply(engine, first, maxTokens);
  const second = [...first, { role: 'assistant' as const, content: one.text }, next];
  const two = await reply(engine, second, maxTokens);
  await engine.unload();
  const fresh = await load(url, contextTokens, () => undefined);
  const again = await reply(fresh.engine, second, maxTokens);
  await fresh.engine.unload();
  return { one, two, again, second };
}

/** Starts a long answer and aborts it after `after` tokens. */
async function stopAfter(url: string, messages: ChatMessage[], after: number) {
  const { engine } = await load(url, 512, () => undefined);
  const controller = new AbortController();
  const ids: number[] = [];
  let stats: GenerationStats | null = null;
  for await (const event of engine.chat(messages, {
    maxTokens: 400,
    sampling: GREEDY,
    signal: controller.signal,
  })) {
    if (event.type === 'token') {
      ids.push(event.id);
      if (ids.length === after) controller.abort();
    } else stats = event.stats;
  }
  // The same engine answers again after a stop.
  let again = 0;
  for await (const event of engine.chat(messages, { maxTokens: 3, sampling: GREEDY })) {
    if (event.type === 'token') again += 1;
  }
  await engine.unload();
  return { ids, stats, again };
}

async function loadFailure(url: string) {
  try {
    const { engine } = await load(url, 256, () => undefined);
    await engine.unload();
    return null;
  } catch (error) {
    const { kind, message } = toEngineFailure(error);
    return { kind, message };
  }
}

/** Loads with a plan whose adapter identity was changed after planning. */
async function staleAdapter(url: string) {
  const plan = await planFor(url, 256, {});
  plan.layers.devices[0].adapter = {
    ...plan.layers.devices[0].adapter!,
    description: 'A GPU that is not here',
  };
  try {
    const engine = await loadEngine(
      { kind: 'gguf', id: url, label: url, source: { type: 'url', url }, plan },
      () => undefined,
    );
    await engine.unload();
    return null;
  } catch (error) {
    const { kind, message } = toEngineFailure(error);
    return { kind, message };
  }
}

const api = { greedy, twoTurns, stopAfter, loadFailure, staleAdapter };
export type WorkerTestApi = typeof api;
(window as unknown as { engineTest: WorkerTestApi }).engineTest = api;
document.body.dataset.ready = 'true';
