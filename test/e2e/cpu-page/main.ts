// A bare page around the engine client for the CPU engine's browser test: loads a model onto the
// CPU engine from a URL, a picked file (a Blob) or the store (downloaded there first in small
// chunks), and streams a greedy reply.
import { loadEngine, WorkerEngine } from '../../../src/engine/client';
import { GREEDY, type ChatMessage, type GenerationStats } from '../../../src/engine/engine';
import type { GgufSourceRef } from '../../../src/engine/messages';
import { checkSupported, parseHeader } from '../../../src/engine/gguf/header';
import { openUrlSource } from '../../../src/engine/gguf/source';
import { describeAdapter } from '../../../src/plan/device';
import { planModel } from '../../../src/plan/planner';
import { withEngineChoice } from '../../../src/plan/cpu';
import type { Plan } from '../../../src/plan/types';
import { downloadModel } from '../../../src/store/download';
import { ModelStore } from '../../../src/store/model-store';
import { browserEnv } from '../../../src/store/quota';

export interface CpuRun {
  pieces: string[];
  text: string;
  stats: GenerationStats | null;
  promptTokens: number;
  stages: string[];
  threads: number | undefined;
}

type Where = 'url' | 'file' | 'store';

async function sourceFor(where: Where, url: string): Promise<GgufSourceRef> {
  if (where === 'url') return { type: 'url', url };
  if (where === 'file') {
    const bytes = await (await fetch(url)).blob();
    return { type: 'file', file: new File([bytes], 'model.gguf'), name: 'model.gguf' };
  }
  const manifest = await downloadModel(
    new ModelStore(),
    browserEnv(),
    { url, chunkBytes: 64 * 1024 },
    new AbortController().signal,
    { bytes: () => undefined, status: () => undefined },
  );
  return { type: 'store', modelId: manifest.id };
}

/** A plan for the model at `url` with the CPU engine chosen, on `threads` threads. */
async function cpuPlan(url: string, threads: number): Promise<Plan> {
  const header = await parseHeader(await openUrlSource(url));
  checkSupported(header);
  const device = describeAdapter({
    name: 'no GPU in this test',
    adapterClass: 'software',
    limits: {},
    features: [],
  });
  const gpuPlan = planModel(header, [device], { contextTokens: 256, contextFloor: 256 });
  return withEngineChoice(gpuPlan, {
    engine: 'cpu',
    threads,
    cpuProblem: null,
    cpuDecodeTokensPerSecond: 0,
    reason: 'CPU engine: chosen by the test',
  });
}

async function loadCpu(where: Where, url: string, threads: number, stages: string[] = []) {
  return loadEngine(
    {
      kind: 'gguf',
      id: url,
      label: url,
      source: await sourceFor(where, url),
      plan: await cpuPlan(url, threads),
    },
    (p) => stages.push(p.stage),
  );
}

async function greedy(
  where: Where,
  url: string,
  messages: ChatMessage[],
  maxTokens: number,
  threads: number,
): Promise<CpuRun> {
  const stages: string[] = [];
  const engine = await loadCpu(where, url, threads, stages);
  const pieces: string[] = [];
  let stats: GenerationStats | null = null;
  try {
    for await (const event of engine.chat(messages, { maxTokens, sampling: GREEDY })) {
      if (event.type === 'token') pieces.push(event.text);
      else stats = event.stats;
    }
    const promptTokens = stats?.promptTokens ?? 0;
    const threads = engine instanceof WorkerEngine ? engine.threads : undefined;
    return { pieces, text: pieces.join(''), stats, promptTokens, stages, threads };
  } finally {
    await engine.unload();
  }
}

/**
 * Stops a reply after its first piece, then asks again on the same engine (llama.cpp reuses the
 * cached prompt): the second reply must be the greedy one all the same.
 */
async function stopThenAgain(url: string, messages: ChatMessage[], again: number) {
  const engine = await loadCpu('url', url, 2);
  try {
    const controller = new AbortController();
    let stopped: GenerationStats | null = null;
    for await (const event of engine.chat(messages, {
      maxTokens: 200,
      sampling: GREEDY,
      signal: controller.signal,
    })) {
      if (event.type === 'token' && event.text) controller.abort();
      if (event.type === 'done') stopped = event.stats;
    }
    let text = '';
    for await (const event of engine.chat(messages, { maxTokens: again, sampling: GREEDY })) {
      if (event.type === 'token') text += event.text;
    }
    return { stopped, text };
  } finally {
    await engine.unload();
  }
}

/**
 * The errors two greedy replies on one engine end with (null for a reply that ends well): what the
 * chat would show the person, and whether the engine still answers after the first.
 */
async function failures(url: string, messages: ChatMessage[], maxTokens: number) {
  const engine = await loadCpu('url', url, 2);
  const seen: ({ name: string; kind: string | undefined; message: string } | null)[] = [];
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        for await (const event of engine.chat(messages, { maxTokens, sampling: GREEDY }))
          void event;
        seen.push(null);
      } catch (error) {
        const e = error as Error & { kind?: string };
        seen.push({ name: e.name, kind: e.kind, message: e.message });
      }
    }
    return seen;
  } finally {
    await engine.unload();
  }
}

const api = { greedy, stopThenAgain, failures };
export type CpuTestApi = typeof api;
(window as unknown as { cpuTest: CpuTestApi }).cpuTest = api;
document.body.dataset.ready = 'true';
