// A bare page around the engine client for the CPU engine's browser test: loads a model onto the
// CPU engine from a URL, a picked file (a Blob) or the store (downloaded there first in small
// chunks), and streams a greedy reply.
import { loadEngine, WorkerEngine } from '../../../src/engine/client';
import { GREEDY, type ChatMessage, type GenerationStats } from '../../../src/engine/engine';
import type { GgufSourceRef } from '../../../src/engine/messages';
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

async function greedy(
  where: Where,
  url: string,
  messages: ChatMessage[],
  maxTokens: number,
  threads: number,
): Promise<CpuRun> {
  const stages: string[] = [];
  const source = await sourceFor(where, url);
  const engine = await loadEngine(
    {
      kind: 'gguf',
      id: url,
      label: url,
      source,
      options: { contextTokens: 256, f16: 'off', engine: 'cpu', threads },
    },
    (p) => stages.push(p.stage),
  );
  const pieces: string[] = [];
  let stats: GenerationStats | null = null;
  try {
    for await (const event of engine.chat(messages, { maxTokens, sampling: GREEDY })) {
      if (event.type === 'token') pieces.push(event.text);
      else stats = event.stats;
    }
    const promptTokens = await engine.countChatTokens(messages);
    const threads = engine instanceof WorkerEngine ? engine.threads : undefined;
    return { pieces, text: pieces.join(''), stats, promptTokens, stages, threads };
  } finally {
    await engine.unload();
  }
}

const api = { greedy };
export type CpuTestApi = typeof api;
(window as unknown as { cpuTest: CpuTestApi }).cpuTest = api;
document.body.dataset.ready = 'true';
