// The page-to-worker protocol in Node: the client (client.ts) and the worker's request handler
// (worker.ts) joined by a MessageChannel around a scripted engine, for the paths a real GPU
// rarely takes: a lost device, a failing engine, a reader that stops early, a second request while
// one runs; and the session's planning around loads (re-plan on a mismatch, retry with less memory).
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
import type { CarriedOutPlan } from '../../src/engine/gguf/planned-load';
import type { Plan } from '../../src/plan/types';
import { Session } from '../../src/app/session.svelte';
import type { ModelChoice } from '../../src/engine/client';

class ScriptedEngine implements ChatEngine {
  readonly kind = 'gguf';
  readonly contextTokens = 128;
  generated = 0;
  aborted = false;
  unloaded = false;
  failAt: number | null = null;
  running = 0;
  mostAtOnce = 0;

  async *chat(_m: ChatMessage[], options: GenerationOptions): AsyncGenerator<GenerationEvent> {
    this.running += 1;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    try {
      yield* this.generate(options);
    } finally {
      this.running -= 1;
    }
  }

  private async *generate(options: GenerationOptions): AsyncGenerator<GenerationEvent> {
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
        droppedMessages: 0,
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

/** A plan as the page sends it; the scripted loader only passes it on. */
function planWithBudgets(...budgets: number[]): Plan {
  return {
    fits: 'full',
    contextTokens: 128,
    layers: {
      total: 2,
      resident: 2,
      streamed: 0,
      devices: budgets.map((value, i) => ({
        name: `GPU ${i}`,
        adapter: {
          powerPreference: i === 0 ? 'high-performance' : 'low-power',
          vendor: 'v',
          architecture: 'a',
          device: '',
          description: `GPU ${i}`,
        },
        budget: { budget: { value, source: 'estimate', detail: 'test' } },
      })),
    },
  } as unknown as Plan;
}

const PLAN = planWithBudgets(1000 * 2 ** 20);
const CARRIED_OUT = { contextTokens: 128 } as unknown as CarriedOutPlan;
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
  const received: Plan[] = [];
  serveEngine(
    port2 as unknown as WorkerScopeLike,
    async (_source, plan, onProgress) => {
      received.push(plan);
      if (refuse) throw refuse;
      onProgress({ stage: 'upload', loaded: 2, total: 4 });
      onProgress({ stage: 'upload', loaded: 4, total: 4 });
      return { engine, lost, carriedOut: () => CARRIED_OUT };
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
  return { client, terminated: () => terminated, received };
}

async function collect(events: AsyncGenerator<GenerationEvent>): Promise<GenerationEvent[]> {
  const out: GenerationEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

const MESSAGES: ChatMessage[] = [{ role: 'user', content: 'hi' }];

describe('engine worker protocol', () => {
  it('loads the plan it is sent with staged progress, streams and unloads', async () => {
    const engine = new ScriptedEngine();
    const { client, terminated, received } = connect(engine);
    const progress: LoadProgress[] = [];
    const model = await client.load({ type: 'store', modelId: 'm' }, PLAN, (p) => progress.push(p));
    expect(received).toEqual([PLAN]);
    expect(model).toEqual({
      kind: 'gguf',
      name: 'scripted.gguf',
      contextTokens: 128,
      carriedOut: CARRIED_OUT,
    });
    expect(client.carriedOut).toEqual(CARRIED_OUT);
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
    await client.unload();
    expect(engine.unloaded).toBe(true);
    expect(terminated()).toBe(1);
  });

  it('stops the worker generating when the signal aborts or the reader leaves early', async () => {
    const engine = new ScriptedEngine();
    const { client } = connect(engine);
    await client.load({ type: 'url', url: 'x' }, PLAN, () => {});
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
    await client.load({ type: 'url', url: 'x' }, PLAN, () => {});
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
    await client.load({ type: 'url', url: 'x' }, PLAN, () => {});
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
    await expect(
      collect(client.chat(MESSAGES, { maxTokens: 2, sampling: GREEDY })),
    ).rejects.toMatchObject({ kind: 'not-loaded' });
  });

  it('runs one generation at a time: a second request waits for the first to end', async () => {
    const engine = new ScriptedEngine();
    const { client } = connect(engine);
    await client.load({ type: 'url', url: 'x' }, PLAN, () => {});
    const order: string[] = [];
    const run = async (name: string, maxTokens: number) => {
      for await (const e of client.chat(MESSAGES, { maxTokens, sampling: GREEDY })) {
        order.push(`${name}:${e.type}`);
      }
    };
    await Promise.all([run('first', 5), run('second', 2)]);
    expect(engine.mostAtOnce).toBe(1);
    expect(order.indexOf('first:done')).toBeLessThan(order.indexOf('second:token'));
    expect(order.filter((e) => e === 'second:token')).toHaveLength(2);
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
    await expect(client.load({ type: 'url', url: 'x' }, PLAN, () => {})).rejects.toMatchObject({
      kind: 'out-of-memory',
      plan: failed,
    });
  });

  it('re-plans the same model with budgets 10% lower and loads that plan', async () => {
    const calls: ModelChoice[] = [];
    const planned: unknown[] = [];
    const replanned = planWithBudgets(900 * 2 ** 20, 450 * 2 ** 20);
    const session = new Session(
      async (choice) => {
        calls.push(choice);
        if (calls.length === 1) throw new EngineError('out-of-memory', 'Refused.', failed);
        return { ...new ScriptedEngine(), name: 'm', kind: 'gguf' } as never;
      },
      async (_source, overrides) => {
        planned.push(overrides);
        return replanned;
      },
    );
    const choice: ModelChoice = {
      kind: 'gguf',
      id: 'm',
      label: 'm.gguf',
      source: { type: 'store', modelId: 'm' },
      plan: planWithBudgets(1000 * 2 ** 20, 500 * 2 ** 20),
    };
    await expect(session.choose(choice)).rejects.toMatchObject({ kind: 'out-of-memory' });
    expect(session.error?.plan).toEqual(failed);
    expect(planned).toEqual([]);
    await session.retryWithLessMemory();
    expect(planned).toEqual([{ budgets: [900 * 2 ** 20, 450 * 2 ** 20] }]);
    expect(calls[1]).toEqual({ ...choice, plan: replanned });
    expect(session.status).toBe('ready');
  });
});

describe('planning around loads', () => {
  it('plans a choice that came without a plan, and plans again when the GPU differs', async () => {
    const loads: ModelChoice[] = [];
    const plans = [planWithBudgets(1), planWithBudgets(2)];
    const session = new Session(
      async (choice) => {
        loads.push(choice);
        if (loads.length === 1) {
          throw new EngineError('plan-mismatch', 'The plan was made for GPU 0, but it differs.');
        }
        return { ...new ScriptedEngine(), name: 'm', kind: 'gguf' } as never;
      },
      async () => plans.shift()!,
    );
    const choice: ModelChoice = {
      kind: 'gguf',
      id: 'm',
      label: 'm.gguf',
      source: { type: 'store', modelId: 'm' },
    };
    await session.choose(choice);
    expect(loads.map((l) => l.kind === 'gguf' && l.plan)).toEqual([
      planWithBudgets(1),
      planWithBudgets(2),
    ]);
    expect(session.choice).toEqual({ ...choice, plan: planWithBudgets(2) });
    expect(session.status).toBe('ready');
  });
});
