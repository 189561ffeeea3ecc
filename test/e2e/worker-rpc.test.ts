// The page-to-worker protocol in Node: the client (client.ts) and the worker's request handler
// (worker.ts) joined by a MessageChannel around a scripted engine, for the paths a real GPU
// rarely takes: a lost device, a failing engine, a reader that stops early.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerEngine, type EnginePort } from '../../src/engine/client';
import {
  GREEDY,
  type ChatEngine,
  type ChatMessage,
  type GenerationEvent,
  type GenerationOptions,
  type LoadProgress,
} from '../../src/engine/engine';
import type { ModelSource } from '../../src/engine/gguf/types';
import { serveEngine, type WorkerScopeLike } from '../../src/engine/worker';
import { EngineError, type FailedPlan } from '../../src/engine/messages';
import { Session } from '../../src/app/session.svelte';
import type { ModelChoice } from '../../src/engine/client';

class ScriptedEngine implements ChatEngine {
  readonly kind = 'gguf';
  readonly contextTokens = 128;
  generated = 0;
  aborted = false;
  unloaded = false;
  failAt: number | null = null;

  async countChatTokens(messages: ChatMessage[]): Promise<number> {
    return messages.length * 10;
  }

  async *chat(_m: ChatMessage[], options: GenerationOptions): AsyncGenerator<GenerationEvent> {
    for (let i = 0; i < options.maxTokens; i++) {
      await new Promise((r) => setTimeout(r, 2));
      if (options.signal?.aborted) {
        this.aborted = true;
        break;
      }
      if (i === this.failAt) throw new Error('GPU out of memory while decoding');
      this.generated += 1;
      yield { type: 'token', id: i, text: `t${i} ` };
    }
    yield {
      type: 'done',
      stats: {
        promptTokens: 7,
        generatedTokens: this.generated,
        prefillTokensPerSecond: 1,
        decodeTokensPerSecond: 2,
        stopReason: this.aborted ? 'aborted' : 'max-tokens',
      },
    };
  }

  async unload(): Promise<void> {
    this.unloaded = true;
  }
}

const source: ModelSource = { name: 'scripted.gguf', size: 4, read: async () => new Uint8Array(4) };
const ports: MessagePort[] = [];

afterEach(() => {
  for (const port of ports.splice(0)) port.close();
});

function connect(
  engine: ScriptedEngine,
  lost?: Promise<{ reason: string; message: string }>,
  refuse?: EngineError,
) {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  let terminated = 0;
  serveEngine(
    port2 as unknown as WorkerScopeLike,
    async (_source, _options, onProgress) => {
      if (refuse) throw refuse;
      onProgress({ stage: 'upload', loaded: 2, total: 4 });
      onProgress({ stage: 'upload', loaded: 4, total: 4 });
      return { engine, lost };
    },
    async () => source,
  );
  const port: EnginePort = {
    postMessage: (m) => port1.postMessage(m),
    addEventListener: (type: 'message' | 'error', listener: (e: never) => void) =>
      port1.addEventListener(type, listener as never),
    terminate: () => void (terminated += 1),
  };
  const client = new WorkerEngine(port);
  return { client, terminated: () => terminated };
}

async function collect(events: AsyncGenerator<GenerationEvent>): Promise<GenerationEvent[]> {
  const out: GenerationEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

const MESSAGES: ChatMessage[] = [{ role: 'user', content: 'hi' }];

describe('engine worker protocol', () => {
  it('loads with staged progress, streams, counts and unloads', async () => {
    const engine = new ScriptedEngine();
    const { client, terminated } = connect(engine);
    const progress: LoadProgress[] = [];
    const model = await client.load(
      { type: 'store', modelId: 'm' },
      { contextTokens: 128, f16: 'auto' },
      (p) => progress.push(p),
    );
    expect(model).toEqual({ kind: 'gguf', name: 'scripted.gguf', contextTokens: 128 });
    expect(progress).toEqual([
      { stage: 'cache', loaded: 2, total: 4 },
      { stage: 'compile', loaded: 0, total: 1 },
    ]);
    const events = await collect(client.chat(MESSAGES, { maxTokens: 3, sampling: GREEDY }));
    expect(events.map((e) => (e.type === 'token' ? e.text : e.type))).toEqual([
      't0 ',
      't1 ',
      't2 ',
      'done',
    ]);
    expect(await client.countChatTokens([...MESSAGES, ...MESSAGES])).toBe(20);
    await client.unload();
    expect(engine.unloaded).toBe(true);
    expect(terminated()).toBe(1);
  });

  it('stops the worker generating when the signal aborts or the reader leaves early', async () => {
    const engine = new ScriptedEngine();
    const { client } = connect(engine);
    await client.load({ type: 'url', url: 'x' }, { contextTokens: 128, f16: 'auto' }, () => {});
    const controller = new AbortController();
    const events: GenerationEvent[] = [];
    for await (const e of client.chat(MESSAGES, {
      maxTokens: 500,
      sampling: GREEDY,
      signal: controller.signal,
    })) {
      events.push(e);
      if (events.length === 3) controller.abort();
    }
    expect(events.at(-1)).toMatchObject({ type: 'done', stats: { stopReason: 'aborted' } });
    expect(engine.generated).toBeLessThan(500);

    engine.aborted = false;
    for await (const e of client.chat(MESSAGES, { maxTokens: 500, sampling: GREEDY })) {
      if (e.type === 'token') break;
    }
    await expect.poll(() => engine.aborted).toBe(true);
  });

  it('passes an engine failure on with its kind and advice', async () => {
    const engine = new ScriptedEngine();
    engine.failAt = 1;
    const { client } = connect(engine);
    await client.load({ type: 'url', url: 'x' }, { contextTokens: 128, f16: 'auto' }, () => {});
    await expect(
      collect(client.chat(MESSAGES, { maxTokens: 5, sampling: GREEDY })),
    ).rejects.toMatchObject({
      kind: 'out-of-memory',
      message: expect.stringMatching(/ran out of memory.*GPU out of memory while decoding/),
    });
  });

  it('refuses requests after the GPU device is lost, saying so', async () => {
    let lose: (loss: { reason: string; message: string }) => void = () => {};
    const lost = new Promise<{ reason: string; message: string }>((r) => (lose = r));
    const { client } = connect(new ScriptedEngine(), lost);
    await client.load({ type: 'url', url: 'x' }, { contextTokens: 128, f16: 'auto' }, () => {});
    lose({ reason: 'unknown', message: 'the driver reset' });
    await new Promise((r) => setTimeout(r, 10));
    await expect(
      collect(client.chat(MESSAGES, { maxTokens: 2, sampling: GREEDY })),
    ).rejects.toMatchObject({
      kind: 'device-lost',
      message: expect.stringMatching(/GPU device was lost.*the driver reset/),
    });
  });

  it('says no model is loaded before a load', async () => {
    const { client } = connect(new ScriptedEngine());
    await expect(client.countChatTokens(MESSAGES)).rejects.toMatchObject({ kind: 'not-loaded' });
  });
});

describe('retry with less memory', () => {
  const failed: FailedPlan = {
    gpuBytes: 1000 * 2 ** 20,
    residentLayers: 20,
    totalLayers: 28,
    contextTokens: 4096,
  };

  it('passes the plan the GPU refused to the page', async () => {
    const refusal = new EngineError('out-of-memory', 'The GPU ran out of memory.', failed);
    const { client } = connect(new ScriptedEngine(), undefined, refusal);
    await expect(
      client.load({ type: 'url', url: 'x' }, { contextTokens: 128, f16: 'auto' }, () => {}),
    ).rejects.toMatchObject({ kind: 'out-of-memory', plan: failed });
  });

  it('plans the same model again within 10% less GPU memory, without the forced layers', async () => {
    const calls: ModelChoice[] = [];
    const session = new Session(async (choice) => {
      calls.push(choice);
      if (calls.length === 1) throw new EngineError('out-of-memory', 'Refused.', failed);
      return { ...new ScriptedEngine(), name: 'm', kind: 'gguf' } as never;
    });
    const choice: ModelChoice = {
      kind: 'gguf',
      id: 'm',
      label: 'm.gguf',
      source: { type: 'store', modelId: 'm' },
      options: { contextTokens: 4096, f16: 'auto', residentLayers: 20, weights: 'file' },
    };
    await expect(session.choose(choice)).rejects.toMatchObject({ kind: 'out-of-memory' });
    expect(session.error?.plan).toEqual(failed);
    await session.retryWithLessMemory();
    expect(calls[1]).toEqual({
      ...choice,
      options: { contextTokens: 4096, f16: 'auto', weights: 'file', budgetBytes: 900 * 2 ** 20 },
    });
    expect(session.status).toBe('ready');
  });
});
