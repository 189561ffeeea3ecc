// The GGUF engine behind the ChatEngine interface: header, weights on the GPU, generation, and
// text through the model's own tokenizer and chat template.
import { q8InputTypeNames } from './kernels/dequant';
import { describePrefillKernels } from './prefill-kernels';
import type {
  ChatEngine,
  ChatMessage,
  GenerationEvent,
  GenerationOptions,
  LoadProgress,
  StopReason,
} from '../engine';
import { hasIntegerDotProduct, type EngineDevice } from '../../gpu/device';
import type { GgufModel } from './model';
import {
  TokenGenerator,
  type DecodeStats,
  type GeneratedToken,
  type TokenGenerationOptions,
} from './generate';
import { loadPlanned, type PlannedModel } from './planned-load';
import type { ComputePrecision, ComputeWish, Plan } from '../../plan/types';
import { fitConversation } from '../context-fit';
import type { ModelHeader, ModelSource } from './types';
import { StopStringFilter } from '../stop-strings';
import { chooseCompute } from '../../plan';
import { describeEngineDevice } from '../device-description';
import {
  adapterNames,
  describeVariants,
  memoryVariantCache,
  tuningKey,
  variantCandidates,
  type ChosenVariants,
  type VariantCache,
} from './variant-choice';

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

export interface GgufEngineOptions {
  prefillChunk?: number;
  maxBindingBytes?: number;
  /** Threads per matmul row, forced; otherwise timed at load among the adapter's candidates. */
  lanesPerRow?: number;
  /**
   * Where timed kernel choices are remembered (IndexedDB in the worker); default this process's
   * memory, so loads of one model on one adapter in a process run the same kernels.
   */
  variantCache?: VariantCache;
  codec?: (header: ModelHeader) => TextCodec | Promise<TextCodec>;
  signal?: AbortSignal;
  onProgress?: (progress: LoadProgress) => void;
}

/** The compute precision by the planner's rule (see `chooseCompute`), for loads without a plan. */
export function choosePrecision(
  device: EngineDevice,
  wish: ComputeWish = 'auto',
): ComputePrecision {
  const chosen = chooseCompute([describeEngineDevice(device)], wish);
  if (chosen.problem) throw new Error(chosen.problem);
  return chosen.compute;
}

const PROCESS_VARIANT_CACHE = memoryVariantCache();

/** How a part's products over the weight types that take 8-bit inputs read them, in words. */
function describeQ8Inputs(part: { q8Inputs: boolean; sharedInputs?: number }): string {
  if (!part.q8Inputs) return 'f32 inputs';
  return part.sharedInputs
    ? '8-bit inputs, integer dot products, one-token products reading each input block once per subgroup'
    : '8-bit inputs, integer dot products';
}

/** Threads per matmul row without timing: the adapter's first candidate (see variant-choice.ts). */
export function defaultLanesPerRow(info: GPUAdapterInfo): number {
  return variantCandidates(adapterNames(info))[0].lanesPerRow;
}

export class GgufEngine implements ChatEngine {
  readonly kind = 'gguf' as const;
  private readonly generator: TokenGenerator;
  lastStats?: DecodeStats;

  private constructor(
    /** The device that runs the output layer (the last of the plan's devices). */
    readonly device: EngineDevice,
    readonly header: ModelHeader,
    /** The part that runs the output layer. */
    readonly model: GgufModel,
    readonly loadMs: number,
    readonly planned: PlannedModel,
    private readonly codec?: TextCodec,
  ) {
    this.generator = new TokenGenerator(planned.model);
  }

  /**
   * Loads as `plan` says: its weight precision (Q8_0 quantized on load), context, compute
   * precision, and on each of `devices` (in the plan's order) its layers, streamed or resident.
   * Errors are `PlanLoadError`s with the plan.
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
        lanesPerRow: options.lanesPerRow,
        tuning: devices.map((d) => ({
          candidates: variantCandidates(adapterNames(d.adapterInfo)),
          key: tuningKey(adapterNames(d.adapterInfo), header, plan.precision.compute),
          cache: options.variantCache ?? PROCESS_VARIANT_CACHE,
        })),
        integerDotProduct: devices.map(hasIntegerDotProduct),
        signal: options.signal,
        onProgress: (loaded, total) => options.onProgress?.({ stage: 'upload', loaded, total }),
      },
    );
    await Promise.all(devices.map((d) => d.device.queue.onSubmittedWorkDone()));
    return new GgufEngine(
      devices[devices.length - 1],
      header,
      planned.parts[planned.parts.length - 1],
      performance.now() - start,
      planned,
      codec,
    );
  }

  /** The kernel variants each device's part runs and how they were chosen, in the plan's order. */
  get variants(): ChosenVariants[] {
    return this.planned.parts.map((part) => part.variants);
  }

  /**
   * `variants`, each part's prefill kernels and whether the products over the weight types that
   * take 8-bit inputs (kernels/dequant.ts) read them, in words (bench output, the generation
   * stats).
   */
  get kernelVariants(): string {
    return this.planned.parts
      .map(
        (part) =>
          `${describeVariants(part.variants)}; ${describePrefillKernels(part.prefillKernels)}; ` +
          `${q8InputTypeNames().join('/')} products: ${describeQ8Inputs(part)}`,
      )
      .join('; ');
  }

  get precision(): ComputePrecision {
    return this.planned.plan.precision.compute;
  }

  get contextTokens(): number {
    return this.model.options.contextTokens;
  }

  get hasCodec(): boolean {
    return this.codec !== undefined;
  }

  /** The token ids whose keys and values the KV cache holds, in order. */
  get cachedTokens(): readonly number[] {
    return this.generator.cached;
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

  /**
   * Generation from token ids. The KV cache keeps what the previous call left there: only the
   * prompt from its first token that differs from the cached ones is run through the model.
   */
  async *generateTokens(
    prompt: number[],
    options: TokenGenerationOptions,
  ): AsyncGenerator<GeneratedToken> {
    yield* this.generator.generate(prompt, options, (stats) => {
      this.lastStats = stats;
    });
  }

  /** Forgets the KV cache, so the next call prefills its whole prompt. */
  resetCache(): void {
    this.generator.reset();
  }

  async *chat(
    messages: ChatMessage[],
    options: GenerationOptions,
  ): AsyncGenerator<GenerationEvent> {
    const codec = this.requireCodec();
    const fit = fitConversation(
      (m) => this.encodeChat(m),
      this.contextTokens,
      messages,
      options.maxTokens,
    );
    const decoder = codec.streamDecoder();
    const stops = new StopStringFilter(options.stop);
    let stopReason: StopReason | undefined;
    this.lastStats = undefined;
    for await (const token of this.generateTokens(fit.ids, {
      maxTokens: fit.maxTokens,
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
    const s = this.lastStats as DecodeStats | undefined;
    yield {
      type: 'done',
      stats: {
        promptTokens: fit.ids.length,
        prefillTokens: s?.prefillTokens ?? 0,
        droppedMessages: fit.dropped,
        generatedTokens: s?.generatedTokens ?? 0,
        prefillTokensPerSecond: s?.prefillTokensPerSecond ?? 0,
        decodeTokensPerSecond: s?.decodeTokensPerSecond ?? 0,
        stopReason: stopReason ?? s?.stopReason ?? 'aborted',
        kernelVariants: this.kernelVariants,
      },
    };
  }

  async unload(): Promise<void> {
    this.planned.destroy();
  }
}
