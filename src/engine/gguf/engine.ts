// The GGUF engine behind the ChatEngine interface: header, weights on the GPU, generation, and
// text through the model's own tokenizer and chat template.
import type {
  ChatEngine,
  ChatMessage,
  GenerationEvent,
  GenerationOptions,
  LoadProgress,
  StopReason,
} from '../engine';
import type { EngineDevice } from '../../gpu/device';
import { checkSupported, parseHeader } from './header';
import { GgufModel } from './model';
import {
  TokenGenerator,
  type DecodeStats,
  type GeneratedToken,
  type TokenGenerationOptions,
} from './generate';
import type { ComputePrecision } from './buffer-plan';
import { loadPlanned, type PlannedModel } from './planned-load';
import type { Plan } from '../../plan/types';
import type { ModelHeader, ModelSource } from './types';
import { StopStringFilter } from '../stop-strings';

/** What the engine needs from the tokenizer and chat template to turn text into tokens and back. */
export interface TextCodec {
  encode(text: string, options?: { addBos?: boolean; parseSpecial?: boolean }): number[];
  decode(ids: number[]): string;
  /** Tokens that end a reply (EOS, EOT, `<|im_end|>`...). */
  readonly endOfGeneration: ReadonlySet<number>;
  /** Whether the model's metadata asks for a BOS token before a prompt. */
  readonly addBos: boolean;
  /** The BOS token's text, as a chat template writes it. */
  readonly bosText?: string;
  /** The conversation rendered through the chat template, with the generation prompt. */
  renderChat(messages: ChatMessage[]): string;
  /** The rendered conversation's ids (special tokens parsed, BOS where the model wants one). */
  encodeChat?(messages: ChatMessage[]): number[];
  /** Incremental decoding that only ever emits complete UTF-8 characters. */
  streamDecoder(): { push(id: number): string; flush(): string };
}

export type PrecisionChoice = 'auto' | ComputePrecision;

export interface GgufEngineOptions {
  /** KV cache capacity; defaults to the model's training context, capped at 4096. */
  contextTokens?: number;
  precision?: PrecisionChoice;
  prefillChunk?: number;
  maxBindingBytes?: number;
  lanesPerRow?: number;
  codec?: (header: ModelHeader) => TextCodec | Promise<TextCodec>;
  signal?: AbortSignal;
  onProgress?: (progress: LoadProgress) => void;
}

export const DEFAULT_CONTEXT_CAP = 4096;

/** f16 compute exactly where the device has shader-f16, unless the caller forces a choice. */
export function choosePrecision(
  device: EngineDevice,
  choice: PrecisionChoice = 'auto',
): ComputePrecision {
  const hasF16 = device.features.has('shader-f16');
  if (choice === 'f16' && !hasF16) {
    throw new Error(
      'f16 compute was requested but this GPU adapter has no shader-f16; use f32 compute (--f16 off).',
    );
  }
  if (choice === 'auto') return hasF16 ? 'f16' : 'f32';
  return choice;
}

/**
 * Threads per matmul row: one on CPU-backed adapters (SwiftShader, llvmpipe), where workgroup
 * barriers cost far more than the arithmetic, and 16 on real GPUs, where neighbouring threads
 * reading neighbouring blocks of a row keeps memory access coalesced.
 */
export function defaultLanesPerRow(info: GPUAdapterInfo): number {
  const name =
    `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  const software =
    (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
    /swiftshader|llvmpipe|lavapipe|software/.test(name);
  return software ? 1 : 16;
}

export class GgufEngine implements ChatEngine {
  readonly kind = 'gguf' as const;
  private readonly generator: TokenGenerator;
  lastStats?: DecodeStats;

  private constructor(
    readonly device: EngineDevice,
    readonly header: ModelHeader,
    readonly model: GgufModel,
    readonly precision: ComputePrecision,
    readonly loadMs: number,
    private readonly codec?: TextCodec,
    /** Set when loaded from a plan: every device's part, and what each allocated. */
    readonly planned?: PlannedModel,
  ) {
    this.generator = new TokenGenerator(planned?.model ?? model);
  }

  /**
   * Loads as `plan` says: its weight precision (Q8_0 quantized on load), context, compute
   * precision, and on each of `devices` (in the plan's order) its layers, streamed or resident.
   * `model` is then the part that runs the output layer. Errors are `PlanLoadError`s with the plan.
   */
  static async loadPlanned(
    devices: EngineDevice[],
    source: ModelSource,
    header: ModelHeader,
    plan: Plan,
    options: GgufEngineOptions = {},
  ): Promise<GgufEngine> {
    const start = performance.now();
    const codec = options.codec ? await options.codec(header) : undefined;
    const planned = await loadPlanned(
      devices.map((d) => d.device),
      source,
      header,
      plan,
      {
        prefillChunk: options.prefillChunk,
        maxBindingBytes: options.maxBindingBytes,
        lanesPerRow: options.lanesPerRow ?? defaultLanesPerRow(devices[0].adapterInfo),
        signal: options.signal,
        onProgress: (loaded, total) => options.onProgress?.({ stage: 'upload', loaded, total }),
      },
    );
    await Promise.all(devices.map((d) => d.device.queue.onSubmittedWorkDone()));
    const last = planned.parts[planned.parts.length - 1];
    return new GgufEngine(
      devices[devices.length - 1],
      header,
      last,
      plan.precision.compute,
      performance.now() - start,
      codec,
      planned,
    );
  }

  static async load(
    device: EngineDevice,
    source: ModelSource,
    options: GgufEngineOptions = {},
  ): Promise<GgufEngine> {
    const start = performance.now();
    const header = await parseHeader(source);
    checkSupported(header);
    const precision = choosePrecision(device, options.precision);
    const contextTokens =
      options.contextTokens ?? Math.min(header.hparams.contextLength, DEFAULT_CONTEXT_CAP);
    const codec = options.codec ? await options.codec(header) : undefined;
    const model = await GgufModel.load(device.device, source, header, {
      contextTokens,
      computePrecision: precision,
      prefillChunk: options.prefillChunk,
      maxBindingBytes: options.maxBindingBytes,
      lanesPerRow: options.lanesPerRow ?? defaultLanesPerRow(device.adapterInfo),
      signal: options.signal,
      onProgress: (loaded, total) => options.onProgress?.({ stage: 'upload', loaded, total }),
    });
    await device.device.queue.onSubmittedWorkDone();
    return new GgufEngine(device, header, model, precision, performance.now() - start, codec);
  }

  get contextTokens(): number {
    return this.model.options.contextTokens;
  }

  get hasCodec(): boolean {
    return this.codec !== undefined;
  }

  private requireCodec(): TextCodec {
    if (!this.codec) {
      throw new Error(
        'this engine was loaded without a tokenizer; load it with a text codec for text in and out',
      );
    }
    return this.codec;
  }

  encodePrompt(text: string): number[] {
    const codec = this.requireCodec();
    return codec.encode(text, { addBos: codec.addBos, parseSpecial: false });
  }

  encodeChat(messages: ChatMessage[]): number[] {
    const codec = this.requireCodec();
    if (codec.encodeChat) return codec.encodeChat(messages);
    return codec.encode(codec.renderChat(messages), { addBos: false, parseSpecial: true });
  }

  decode(ids: number[]): string {
    return this.requireCodec().decode(ids);
  }

  get endOfGeneration(): ReadonlySet<number> {
    return this.codec?.endOfGeneration ?? new Set();
  }

  /** Generation from token ids; the cache restarts at position 0 on every call. */
  async *generateTokens(
    prompt: number[],
    options: TokenGenerationOptions,
  ): AsyncGenerator<GeneratedToken> {
    this.generator.reset();
    yield* this.generator.generate(prompt, options, (stats) => {
      this.lastStats = stats;
    });
  }

  async countChatTokens(messages: ChatMessage[]): Promise<number> {
    return this.encodeChat(messages).length;
  }

  async *chat(
    messages: ChatMessage[],
    options: GenerationOptions,
  ): AsyncGenerator<GenerationEvent> {
    const codec = this.requireCodec();
    const prompt = this.encodeChat(messages);
    const decoder = codec.streamDecoder();
    const stops = new StopStringFilter(options.stop);
    let stopReason: StopReason | undefined;
    for await (const token of this.generateTokens(prompt, {
      maxTokens: options.maxTokens,
      sampling: options.sampling,
      stopTokens: codec.endOfGeneration,
      signal: options.signal,
    })) {
      const { text, stopped } = stops.push(decoder.push(token.id));
      if (stopped) {
        if (text) yield { type: 'token', id: token.id, text };
        stopReason = 'stop-string';
        break;
      }
      yield { type: 'token', id: token.id, text };
    }
    if (stopReason === undefined) {
      const rest = stops.flush() + decoder.flush();
      if (rest) yield { type: 'token', id: -1, text: rest };
    }
    const s = this.lastStats;
    yield {
      type: 'done',
      stats: {
        promptTokens: prompt.length,
        generatedTokens: s?.generatedTokens ?? 0,
        prefillTokensPerSecond: s?.prefillTokensPerSecond ?? 0,
        decodeTokensPerSecond: s?.decodeTokensPerSecond ?? 0,
        stopReason: stopReason ?? s?.stopReason ?? 'aborted',
      },
    };
  }

  async unload(): Promise<void> {
    if (this.planned) this.planned.destroy();
    else this.model.destroy();
  }
}
