// The CPU engine: llama.cpp compiled to WebAssembly (wllama) behind the ChatEngine interface. The
// model's bytes come as a Blob (a local file, or the store's chunks joined without a copy) and
// are read by the WebAssembly side as it needs them. Prompts are rendered with our own chat
// template and counted with our own tokenizer, as for the GGUF engine.
//
// wllama 3.8.1 offers only llama.cpp's server-style completion (a text prompt in, text out): no
// token-level decode, sample or accept, and its streamed chunks carry text, not token ids or bytes
// (ids come only with log-probabilities, as text that fails the same way). Its server holds back
// the bytes of a character split over several tokens until the character is complete, so byte
// tokens stream as whole characters, and bytes that never complete a character are not sent. A
// byte that is not UTF-8 even on its own (a stray continuation byte) makes wllama's strict result
// encoding fail; that failure is named as such rather than as the RangeError wllama raises.
import { LogLevel, Wllama, type WllamaLogger } from '@wllama/wllama';
import wasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';
import type {
  ChatEngine,
  ChatMessage,
  GenerationEvent,
  GenerationOptions,
  LoadProgress,
  StopReason,
} from '../engine';
import type { TextCodec } from '../gguf/engine';
import { EngineError } from '../messages';
import { StopStringFilter } from '../stop-strings';
import { fitConversation } from '../context-fit';

export interface WllamaLoadOptions {
  contextTokens: number;
  /** Threads llama.cpp runs on; more than one needs a cross-origin isolated page. */
  threads: number;
  signal?: AbortSignal;
  onProgress?: (progress: LoadProgress) => void;
}

/** What llama.cpp's server-style completion sends per streamed piece (a subset). */
interface CompletionChunk {
  choices: { text: string; finish_reason: 'stop' | 'length' | null }[];
  timings?: {
    prompt_n: number;
    prompt_per_second: number;
    predicted_n: number;
    predicted_per_second: number;
  };
  usage?: { completion_tokens: number; prompt_tokens: number } | null;
}

const INVALID_UTF8 = /invalid UTF-8|type_error\.316/;

/** Keeps wllama's native errors (for the message a failure gets) and drops its chatter. */
function errorRecorder(): WllamaLogger & { errors: string[] } {
  const logger = {
    errors: [] as string[],
    debug: () => undefined,
    log: () => undefined,
    warn: () => undefined,
    error: (...args: unknown[]) => {
      logger.errors.push(args.map(String).join(' '));
      logger.errors.splice(0, logger.errors.length - 8);
    },
  };
  return logger;
}

export class WllamaEngine implements ChatEngine {
  readonly kind = 'wllama' as const;

  private constructor(
    private readonly wllama: Wllama,
    private readonly codec: TextCodec,
    private readonly logger: ReturnType<typeof errorRecorder>,
    readonly contextTokens: number,
    /** Threads llama.cpp really runs on (one without cross-origin isolation). */
    readonly threads: number,
  ) {}

  static async load(
    model: Blob,
    codec: TextCodec,
    options: WllamaLoadOptions,
  ): Promise<WllamaEngine> {
    const logger = errorRecorder();
    const wllama = new Wllama({ default: wasmUrl }, { logger });
    options.onProgress?.({ stage: 'compile', loaded: 0, total: 1 });
    try {
      await wllama.loadModel([model], {
        n_ctx: options.contextTokens,
        n_threads: options.threads,
        n_gpu_layers: 0,
        n_parallel: 1,
        log_level: LogLevel.ERROR,
      });
    } catch (error) {
      await wllama.exit();
      throw new EngineError(
        'bad-model',
        `llama.cpp (WebAssembly) could not load ${model instanceof File ? model.name : 'the model'}: ${logger.errors[0] ?? String(error)}`,
      );
    }
    if (options.signal?.aborted) {
      await wllama.exit();
      throw new EngineError('aborted', 'Loading was cancelled.');
    }
    options.onProgress?.({ stage: 'compile', loaded: 1, total: 1 });
    const loaded = wllama.getLoadedContextInfo();
    return new WllamaEngine(wllama, codec, logger, loaded.n_ctx, wllama.getNumThreads());
  }

  /** The rendered conversation as llama.cpp's tokenizer gets it: it adds BOS itself. */
  private promptText(messages: ChatMessage[]): string {
    const text = this.codec.renderChat(messages);
    const bos = this.codec.addBos ? this.codec.bosText : undefined;
    return bos && text.startsWith(bos) ? text.slice(bos.length) : text;
  }

  private encodeChat(messages: ChatMessage[]): number[] {
    if (this.codec.encodeChat) return this.codec.encodeChat(messages);
    return this.codec.encode(this.codec.renderChat(messages), { parseSpecial: true });
  }

  async *chat(
    messages: ChatMessage[],
    options: GenerationOptions,
  ): AsyncGenerator<GenerationEvent> {
    let kept = messages;
    const fit = fitConversation(
      (m) => this.encodeChat((kept = m)),
      this.contextTokens,
      messages,
      options.maxTokens,
    );
    const promptTokens = fit.ids.length;
    const maxTokens = fit.maxTokens;
    const { sampling } = options;
    const stops = new StopStringFilter(options.stop);
    const pieces: string[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    let failure: unknown = null;
    let last: CompletionChunk | null = null;
    const stopped = new AbortController();
    const abort = () => stopped.abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    const notify = () => {
      wake?.();
      wake = null;
    };
    this.logger.errors.length = 0;
    const request = {
      prompt: this.promptText(kept),
      stream: true as const,
      n_predict: maxTokens,
      temperature: sampling.temperature,
      top_k: sampling.topK,
      top_p: sampling.topP,
      min_p: sampling.minP,
      repeat_penalty: sampling.repetitionPenalty,
      repeat_last_n: sampling.repetitionLastN,
      seed: sampling.seed,
      cache_prompt: true,
      timings_per_token: true,
      abortSignal: stopped.signal,
      onData: (chunk: CompletionChunk) => {
        last = chunk;
        const text = chunk.choices[0]?.text;
        if (text) pieces.push(text);
        notify();
      },
    };
    this.wllama
      .createCompletion(request as unknown as Parameters<Wllama['createCompletion']>[0])
      .catch((error: unknown) => {
        if (!stopped.signal.aborted) failure = error;
      })
      .finally(() => {
        finished = true;
        notify();
      });
    let stopReason: StopReason | undefined;
    try {
      while (stopReason === undefined) {
        const piece = pieces.shift();
        if (piece === undefined) {
          if (finished) break;
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        const { text, stopped: hit } = stops.push(piece);
        if (text) yield { type: 'token', id: -1, text };
        if (hit) stopReason = 'stop-string';
      }
      if (stopReason === undefined && failure) throw this.describeFailure(failure);
      if (stopReason === undefined) {
        const rest = stops.flush();
        if (rest) yield { type: 'token', id: -1, text: rest };
      }
    } finally {
      options.signal?.removeEventListener('abort', abort);
      stopped.abort();
    }
    const final = last as CompletionChunk | null;
    const timings = final?.timings;
    const generated = final?.usage?.completion_tokens ?? timings?.predicted_n ?? 0;
    const finish = final?.choices[0]?.finish_reason;
    if (options.signal?.aborted) stopReason = 'aborted';
    stopReason ??=
      finish === 'length' ? (maxTokens < options.maxTokens ? 'context-full' : 'max-tokens') : 'eos';
    yield {
      type: 'done',
      stats: {
        promptTokens,
        // llama.cpp reuses the cached prefix of the prompt (cache_prompt) and counts what it ran.
        ...(timings?.prompt_n === undefined ? {} : { prefillTokens: timings.prompt_n }),
        droppedMessages: fit.dropped,
        generatedTokens: generated,
        prefillTokensPerSecond: timings?.prompt_per_second ?? 0,
        decodeTokensPerSecond: timings?.predicted_per_second ?? 0,
        stopReason,
      },
    };
  }

  private describeFailure(error: unknown): EngineError {
    if (this.logger.errors.some((line) => INVALID_UTF8.test(line))) {
      return new EngineError(
        'bad-model',
        'The model generated a byte that is not valid UTF-8, which the CPU engine (llama.cpp in WebAssembly) cannot pass on: regenerate, change the sampling settings, or use the GPU engine for this model.',
      );
    }
    return new EngineError(
      'unknown',
      `The CPU engine failed: ${this.logger.errors[0] ?? (error instanceof Error ? error.message : String(error))}`,
    );
  }

  async unload(): Promise<void> {
    await this.wllama.exit();
  }
}
