// The WebLLM adapter against a fake of WebLLM's engine interface: the real engine needs compiled
// model libraries from the internet.
import { describe, expect, it } from 'vitest';
import { GREEDY, type GenerationEvent, type LoadProgress } from '../../src/engine/engine';
import { toEngineFailure } from '../../src/engine/messages';
import { chooseVariant, prebuiltModels, type PrebuiltModel } from '../../src/engine/webllm/catalog';
import {
  createWebLLMEngine,
  progressFromReport,
  type ChatChunk,
  type MLCEngineLike,
  type WebLLMEngineConfig,
  type WebLLMModuleLike,
} from '../../src/engine/webllm/engine';

interface FakeCall {
  worker: unknown;
  modelId: string;
  config: WebLLMEngineConfig;
  chatOpts: { context_window_size: number };
}

function fakeModule(engine: Partial<MLCEngineLike>, failWith?: unknown) {
  const calls: FakeCall[] = [];
  const module: WebLLMModuleLike = {
    prebuiltAppConfig: { model_list: [{ model_id: 'listed' }] },
    async CreateWebWorkerMLCEngine(worker, modelId, config, chatOpts) {
      calls.push({ worker, modelId, config, chatOpts });
      config.initProgressCallback({ progress: 0.25, text: 'Fetching param cache[1/4]: 10MB' });
      config.initProgressCallback({ progress: 0.9, text: 'Loading GPU shader modules[9/10]' });
      if (failWith !== undefined) throw failWith;
      return engine as MLCEngineLike;
    },
  };
  return { module, calls };
}

function streamOf(chunks: ChatChunk[], onEach?: (i: number) => void): AsyncIterable<ChatChunk> {
  return {
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < chunks.length; i++) {
        onEach?.(i);
        yield chunks[i];
      }
    },
  };
}

async function collect(gen: AsyncGenerator<GenerationEvent>): Promise<GenerationEvent[]> {
  const events: GenerationEvent[] = [];
  for await (const e of gen) events.push(e);
  return events;
}

const family = (id: string, quantization: string): PrebuiltModel => ({
  id: `${id}-${quantization}-MLC`,
  family: id,
  quantization,
  vramMB: 100,
  contextWindow: 4096,
  lowResource: true,
  requiredFeatures: quantization.includes('f16') ? ['shader-f16'] : [],
});

describe('chooseVariant', () => {
  const models = [
    family('Tiny', 'q4f32_1'),
    family('Tiny', 'q4f16_1'),
    family('Tiny', 'q0f16'),
    family('OnlyF16', 'q4f16_1'),
  ];

  it('takes q4f16_1 when the adapter has shader-f16 and q4f32_1 when it has not', () => {
    expect(chooseVariant('Tiny', true, models).id).toBe('Tiny-q4f16_1-MLC');
    expect(chooseVariant('Tiny', false, models).id).toBe('Tiny-q4f32_1-MLC');
  });

  it('says why when no variant can run without shader-f16', () => {
    expect(() => chooseVariant('OnlyF16', false, models)).toThrow(/q4f16_1.*shader-f16/);
    expect(() => chooseVariant('Missing', true, models)).toThrow(/no prebuilt model named Missing/);
  });

  it('finds both variants of real prebuilt models', () => {
    expect(chooseVariant('SmolLM2-360M-Instruct', true).id).toBe(
      'SmolLM2-360M-Instruct-q4f16_1-MLC',
    );
    expect(chooseVariant('SmolLM2-360M-Instruct', false).id).toBe(
      'SmolLM2-360M-Instruct-q4f32_1-MLC',
    );
    expect(prebuiltModels().every((m) => m.id.startsWith(m.family))).toBe(true);
  });
});

describe('createWebLLMEngine', () => {
  it('passes the worker, the model, the planned context window and the IndexedDB cache', async () => {
    const { module, calls } = fakeModule({});
    const progress: LoadProgress[] = [];
    const worker = { name: 'fake worker' };
    const engine = await createWebLLMEngine(module, worker, 'Tiny-q4f32_1-MLC', {
      contextWindowSize: 3072,
      onProgress: (p) => progress.push(p),
    });
    expect(calls).toHaveLength(1);
    expect(calls[0].worker).toBe(worker);
    expect(calls[0].modelId).toBe('Tiny-q4f32_1-MLC');
    expect(calls[0].chatOpts).toEqual({ context_window_size: 3072 });
    expect(calls[0].config.appConfig).toEqual({
      model_list: [{ model_id: 'listed' }],
      cacheBackend: 'indexeddb',
    });
    expect(engine.contextTokens).toBe(3072);
    expect(progress).toEqual([
      { stage: 'download', loaded: 250, total: 1000 },
      { stage: 'compile', loaded: 900, total: 1000 },
    ]);
  });

  it.each([
    [
      'The WebGPU device was lost while loading the model. This issue often occurs due to running out of memory (OOM).',
      'device-lost',
      /GPU device was lost/,
    ],
    [
      'Error: Out of memory allocating buffer of 2147483648 bytes',
      'out-of-memory',
      /ran out of memory/,
    ],
    [
      'This model requires WebGPU extension shader-f16, which is not enabled in this browser.',
      'missing-feature',
      /q4f32_1/,
    ],
    [
      'QuotaExceededError: The quota has been exceeded.',
      'quota',
      /delete models you no longer need/,
    ],
    ['WebGPU is not supported in your current environment', 'no-webgpu', /Chrome, Edge or Safari/],
  ])('maps the worker-mode string %j to a clear %s message', async (text, kind, advice) => {
    const { module } = fakeModule({}, text);
    const load = createWebLLMEngine(module, {}, 'Tiny-q4f32_1-MLC', {
      contextWindowSize: 2048,
      onProgress: () => undefined,
    });
    await expect(load).rejects.toMatchObject({ kind, message: expect.stringMatching(advice) });
    await expect(load).rejects.toMatchObject({ message: expect.stringContaining(text) });
  });

  it('maps a thrown Error the same way as its string', () => {
    const fromError = toEngineFailure(new Error('GPU out of memory'));
    expect(fromError.kind).toBe('out-of-memory');
    expect(toEngineFailure('GPU out of memory').kind).toBe('out-of-memory');
    expect(toEngineFailure('something odd').kind).toBe('unknown');
  });
});

describe('WebLLMChatEngine', () => {
  it('streams text and reports WebLLM usage as generation stats', async () => {
    const requests: Record<string, unknown>[] = [];
    const engine: MLCEngineLike = {
      chat: {
        completions: {
          async create(request) {
            requests.push(request);
            return streamOf([
              { choices: [{ delta: { content: 'Hel' } }] },
              { choices: [{ delta: { content: 'lo' }, finish_reason: 'stop' }] },
              {
                choices: [],
                usage: {
                  prompt_tokens: 12,
                  completion_tokens: 2,
                  extra: { prefill_tokens_per_s: 300, decode_tokens_per_s: 40 },
                },
              },
            ]);
          },
        },
      },
      interruptGenerate: () => undefined,
      unload: async () => undefined,
    };
    const { module } = fakeModule(engine);
    const chat = await createWebLLMEngine(module, {}, 'm', {
      contextWindowSize: 1024,
      onProgress: () => undefined,
    });
    const messages = [{ role: 'user' as const, content: 'hi' }];
    const events = await collect(
      chat.chat(messages, { maxTokens: 7, sampling: { ...GREEDY, seed: 5 }, stop: ['###'] }),
    );
    expect(events).toEqual([
      { type: 'token', id: -1, text: 'Hel' },
      { type: 'token', id: -1, text: 'lo' },
      {
        type: 'done',
        stats: {
          promptTokens: 12,
          droppedMessages: 0,
          generatedTokens: 2,
          prefillTokensPerSecond: 300,
          decodeTokensPerSecond: 40,
          stopReason: 'eos',
        },
      },
    ]);
    expect(requests[0]).toMatchObject({
      messages,
      stream: true,
      max_tokens: 7,
      temperature: 0,
      seed: 5,
      stop: ['###'],
    });
  });

  it('interrupts WebLLM when the signal aborts and reports the answer as aborted', async () => {
    const controller = new AbortController();
    let interrupted = 0;
    const engine: MLCEngineLike = {
      chat: {
        completions: {
          async create() {
            return streamOf(
              [
                { choices: [{ delta: { content: 'a' } }] },
                { choices: [{ delta: { content: 'b' }, finish_reason: 'abort' }] },
              ],
              (i) => i === 1 && controller.abort(),
            );
          },
        },
      },
      interruptGenerate: () => void (interrupted += 1),
      unload: async () => undefined,
    };
    const { module } = fakeModule(engine);
    const chat = await createWebLLMEngine(module, {}, 'm', {
      contextWindowSize: 1024,
      onProgress: () => undefined,
    });
    const events = await collect(
      chat.chat([{ role: 'user', content: 'x' }], {
        maxTokens: 10,
        sampling: GREEDY,
        signal: controller.signal,
      }),
    );
    expect(interrupted).toBe(1);
    expect(events.at(-1)).toMatchObject({
      type: 'done',
      stats: { stopReason: 'aborted', generatedTokens: 2 },
    });
  });

  it('turns a device loss during generation into a clear error', async () => {
    const engine: MLCEngineLike = {
      chat: {
        completions: {
          async create() {
            throw 'Device was lost: unknown reason';
          },
        },
      },
      interruptGenerate: () => undefined,
      unload: async () => undefined,
    };
    const { module } = fakeModule(engine);
    const chat = await createWebLLMEngine(module, {}, 'm', {
      contextWindowSize: 1024,
      onProgress: () => undefined,
    });
    await expect(
      collect(chat.chat([{ role: 'user', content: 'x' }], { maxTokens: 1, sampling: GREEDY })),
    ).rejects.toMatchObject({
      kind: 'device-lost',
    });
  });

  it('leaves the oldest exchanges out when WebLLM refuses a prompt longer than its context', async () => {
    const asked: number[] = [];
    const engine: MLCEngineLike = {
      chat: {
        completions: {
          async create(request) {
            const messages = request.messages as { content: string }[];
            asked.push(messages.length);
            expect(request.max_tokens).toBeGreaterThan(1);
            if (messages.length > 2 || messages.some((m) => m.content.length > 1000)) {
              // WebLLM's ContextWindowSizeExceededError, as its worker sends it: a string.
              throw 'Prompt tokens exceed context window size: number of prompt tokens: 900; context window size: 512';
            }
            return streamOf([{ choices: [{ delta: { content: 'ok' }, finish_reason: 'stop' }] }]);
          },
        },
      },
      interruptGenerate: () => undefined,
      unload: async () => undefined,
    };
    const { module } = fakeModule(engine);
    const chat = await createWebLLMEngine(module, {}, 'm', {
      contextWindowSize: 512,
      onProgress: () => undefined,
    });
    const events = await collect(
      chat.chat(
        [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'one' },
          { role: 'assistant', content: 'two' },
          { role: 'user', content: 'three' },
        ],
        { maxTokens: 64, sampling: GREEDY },
      ),
    );
    // System + 3 turns refused; the first exchange is dropped whole, leaving system + "three".
    expect(asked).toEqual([4, 2]);
    expect(events.at(-1)).toMatchObject({ type: 'done', stats: { droppedMessages: 2 } });

    await expect(
      collect(
        chat.chat(
          [
            { role: 'user', content: 'c' },
            { role: 'assistant', content: 'b' },
            { role: 'user', content: 'a'.repeat(9999) },
          ],
          { maxTokens: 8, sampling: GREEDY },
        ),
      ),
    ).rejects.toThrow(/exceed context window size/);
  });
});

describe('progressFromReport', () => {
  it('tells the stage from WebLLM wording', () => {
    expect(
      progressFromReport({ progress: 0.5, text: 'Loading model from cache[3/6]: 100MB' }),
    ).toEqual({
      stage: 'cache',
      loaded: 500,
      total: 1000,
    });
    expect(
      progressFromReport({ progress: 1, text: 'Finish loading on WebGPU - google' }).stage,
    ).toBe('compile');
  });
});
