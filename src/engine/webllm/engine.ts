// WebLLM behind the app's ChatEngine interface. The only code that imports `@mlc-ai/web-llm`
// (with mlc.worker.ts and cache.ts), and only through `import()`, so the module is fetched when a
// person picks an MLC model and never for the GGUF path.
import type {
  ChatMessage,
  GenerationEvent,
  GenerationOptions,
  LoadProgress,
  LoadStage,
  StopReason,
} from '../engine';
import { EngineError, toEngineFailure } from '../messages';
import { dropOldest, splitSystem } from '../context-fit';
import { markWebLLMUsed } from './cache';

/** The part of WebLLM's engine interface this adapter drives (a fake stands in for it in tests). */
export interface MLCEngineLike {
  chat: {
    completions: {
      create(
        request: Record<string, unknown>,
      ): Promise<AsyncIterable<ChatChunk> | ChatCompletionLike>;
    };
  };
  interruptGenerate(): void;
  unload(): Promise<void>;
}

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  extra?: { prefill_tokens_per_s?: number; decode_tokens_per_s?: number };
}

export interface ChatChunk {
  choices: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: ChatUsage;
}

export interface ChatCompletionLike {
  usage?: ChatUsage;
}

export interface InitProgressLike {
  progress: number;
  text: string;
}

export interface WebLLMEngineConfig {
  appConfig: { model_list: unknown[]; cacheBackend: 'indexeddb' };
  initProgressCallback: (report: InitProgressLike) => void;
}

/** What this adapter needs from the module: injected in tests, `import('@mlc-ai/web-llm')` in the app. */
export interface WebLLMModuleLike {
  prebuiltAppConfig: { model_list: unknown[] };
  CreateWebWorkerMLCEngine(
    worker: unknown,
    modelId: string,
    engineConfig: WebLLMEngineConfig,
    chatOpts: { context_window_size: number },
  ): Promise<MLCEngineLike>;
}

export interface WebLLMLoadOptions {
  contextWindowSize: number;
  onProgress: (progress: LoadProgress) => void;
  signal?: AbortSignal;
}

/**
 * WebLLM reports one progress number with a sentence; its wording tells the stage ("Fetching
 * param cache[i/n]", "Loading model from cache[i/n]", "Loading GPU shader modules[i/n]").
 */
export function progressFromReport(report: InitProgressLike): LoadProgress {
  let stage: LoadStage = 'download';
  if (/shader|finish loading/i.test(report.text)) stage = 'compile';
  else if (/from cache/i.test(report.text)) stage = 'cache';
  return { stage, loaded: Math.round(report.progress * 1000), total: 1000 };
}

function stopReason(finish: string | null | undefined, aborted: boolean): StopReason {
  if (aborted || finish === 'abort') return 'aborted';
  if (finish === 'length') return 'max-tokens';
  return 'eos';
}

export class WebLLMChatEngine {
  readonly kind = 'webllm';

  constructor(
    private readonly engine: MLCEngineLike,
    readonly name: string,
    readonly contextTokens: number,
  ) {}

  /**
   * WebLLM exposes no tokenizer and reuses its KV cache for a shared prefix by itself. A prompt
   * longer than the context is refused before the first token; then the oldest exchange is left
   * out and the request made again.
   */
  async *chat(
    messages: ChatMessage[],
    options: GenerationOptions,
  ): AsyncGenerator<GenerationEvent> {
    const { system, turns } = splitSystem(messages);
    for (let start: number | null = 0; ;) {
      try {
        yield* this.complete([...system, ...turns.slice(start)], start, options);
        return;
      } catch (error) {
        const tooLong = error instanceof PromptTooLong;
        start = tooLong ? dropOldest(turns, start) : null;
        if (start === null) throw tooLong ? asEngineError(error.cause) : error;
      }
    }
  }

  private async *complete(
    messages: ChatMessage[],
    dropped: number,
    options: GenerationOptions,
  ): AsyncGenerator<GenerationEvent> {
    const { sampling } = options;
    const interrupt = () => this.engine.interruptGenerate();
    options.signal?.addEventListener('abort', interrupt, { once: true });
    let generated = 0;
    let finish: string | null | undefined;
    let usage: ChatUsage | undefined;
    try {
      const stream = (await this.engine.chat.completions.create({
        messages,
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: options.maxTokens,
        temperature: sampling.temperature,
        top_p: sampling.topP,
        seed: sampling.seed,
        repetition_penalty: sampling.repetitionPenalty,
        stop: options.stop,
      })) as AsyncIterable<ChatChunk>;
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        const text = choice?.delta?.content;
        if (text) {
          generated += 1;
          yield { type: 'token', id: -1, text };
        }
        finish = choice?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }
    } catch (error) {
      if (generated === 0 && CONTEXT_EXCEEDED.test(String(error))) {
        throw new PromptTooLong(error);
      }
      throw asEngineError(error);
    } finally {
      options.signal?.removeEventListener('abort', interrupt);
    }
    yield {
      type: 'done',
      stats: {
        promptTokens: usage?.prompt_tokens ?? 0,
        droppedMessages: dropped,
        generatedTokens: usage?.completion_tokens ?? generated,
        prefillTokensPerSecond: usage?.extra?.prefill_tokens_per_s ?? 0,
        decodeTokensPerSecond: usage?.extra?.decode_tokens_per_s ?? 0,
        stopReason: stopReason(finish, options.signal?.aborted ?? false),
      },
    };
  }

  async unload(): Promise<void> {
    await this.engine.unload();
  }
}

/** WebLLM's ContextWindowSizeExceededError, which its worker sends as a string. */
const CONTEXT_EXCEEDED = /exceed context window size/i;

/** The prompt did not fit the context window; the chat leaves out a turn and asks again. */
class PromptTooLong extends Error {
  constructor(cause: unknown) {
    super('the prompt does not fit the context window', { cause });
  }
}

/** WebLLM's worker sends failures as strings; this gives them a kind and a remedy. */
export function asEngineError(error: unknown): EngineError {
  const failure = toEngineFailure(error);
  return new EngineError(failure.kind, failure.message);
}

/** Loads `modelId` through CreateWebWorkerMLCEngine with the given module and worker. */
export async function createWebLLMEngine(
  module: WebLLMModuleLike,
  worker: unknown,
  modelId: string,
  options: WebLLMLoadOptions,
): Promise<WebLLMChatEngine> {
  try {
    const engine = await module.CreateWebWorkerMLCEngine(
      worker,
      modelId,
      {
        appConfig: { model_list: module.prebuiltAppConfig.model_list, cacheBackend: 'indexeddb' },
        initProgressCallback: (report) => options.onProgress(progressFromReport(report)),
      },
      { context_window_size: options.contextWindowSize },
    );
    return new WebLLMChatEngine(engine, modelId, options.contextWindowSize);
  } catch (error) {
    throw asEngineError(error);
  }
}

export async function loadWebLLM(
  modelId: string,
  options: WebLLMLoadOptions,
): Promise<WebLLMChatEngine> {
  markWebLLMUsed();
  const module = (await import('@mlc-ai/web-llm')) as unknown as WebLLMModuleLike;
  const worker = new Worker(new URL('./mlc.worker.ts', import.meta.url), {
    type: 'module',
    name: 'webllm',
  });
  const onAbort = () => worker.terminate();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await createWebLLMEngine(module, worker, modelId, options);
  } catch (error) {
    worker.terminate();
    throw options.signal?.aborted ? new EngineError('aborted', 'Loading was cancelled.') : error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}
