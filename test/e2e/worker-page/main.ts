// A bare page around the engine client, so the worker test drives the real module worker from
// page.evaluate without going through the app's views.
import { loadEngine, type LoadedEngine } from '../../../src/engine/client';
import {
  GREEDY,
  type ChatMessage,
  type GenerationStats,
  type LoadProgress,
} from '../../../src/engine/engine';
import { EngineError, type GgufLoadOptions } from '../../../src/engine/messages';

export interface GreedyRun {
  ids: number[];
  text: string;
  stats: GenerationStats | null;
  progress: LoadProgress[];
  promptTokens: number;
  contextTokens: number;
  /** Longest gap between main-thread timer ticks while loading and generating, in ms. */
  longestStallMs: number;
}

function load(
  url: string,
  contextTokens: number,
  onProgress: (p: LoadProgress) => void,
  placement: Pick<GgufLoadOptions, 'residentLayers' | 'weights' | 'budgetBytes'> = {},
) {
  return loadEngine(
    {
      kind: 'gguf',
      id: url,
      label: url,
      source: { type: 'url', url },
      options: { contextTokens, f16: 'off', ...placement },
    },
    onProgress,
  );
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

async function greedy(
  url: string,
  messages: ChatMessage[],
  maxTokens: number,
  contextTokens: number,
  placement: Pick<GgufLoadOptions, 'residentLayers' | 'weights' | 'budgetBytes'> = {},
): Promise<GreedyRun> {
  const progress: LoadProgress[] = [];
  const stop = stallMeter();
  const engine = await load(url, contextTokens, (p) => progress.push(p), placement);
  const ids: number[] = [];
  let text = '';
  let stats: GenerationStats | null = null;
  for await (const event of engine.chat(messages, { maxTokens, sampling: GREEDY })) {
    if (event.type === 'token') {
      ids.push(event.id);
      text += event.text;
    } else stats = event.stats;
  }
  const longestStallMs = stop();
  const promptTokens = await engine.countChatTokens(messages);
  await engine.unload();
  return {
    ids,
    text,
    stats,
    progress,
    promptTokens,
    contextTokens: engine.contextTokens,
    longestStallMs,
  };
}

/** Starts a long answer and aborts it after `after` tokens. */
async function stopAfter(url: string, messages: ChatMessage[], after: number) {
  const engine: LoadedEngine = await load(url, 512, () => undefined);
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
    const engine = await load(url, 256, () => undefined);
    await engine.unload();
    return null;
  } catch (error) {
    return error instanceof EngineError
      ? { kind: error.kind, message: error.message }
      : { kind: 'not an EngineError', message: String(error) };
  }
}

const api = { greedy, stopAfter, loadFailure };
export type WorkerTestApi = typeof api;
(window as unknown as { engineTest: WorkerTestApi }).engineTest = api;
document.body.dataset.ready = 'true';
