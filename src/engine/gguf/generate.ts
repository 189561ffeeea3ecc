// Token-level generation over a loaded model: chunked prefill, then one queue submission per
// decode token that embeds the previous token, runs every layer, the output layer and the GPU
// sampler, and copies back only the chosen id (plus the top logits when asked).
import { packStruct, SAMPLING } from './kernels/host-structs';
import { MAX_PENALTY_TOKENS, MAX_TOP_LOGITS } from './buffer-plan';
import type { PassCounters } from './model';
import type { ModelHparams } from './types';
import { seededUniform } from './sampler';
import type { SamplingOptions, StopReason } from '../engine';

export interface TokenLogit {
  id: number;
  logit: number;
}

export interface GeneratedToken {
  id: number;
  /** The K largest logits of the step that produced `id`, when asked for. */
  topLogits?: TokenLogit[];
}

/** A prompt holds an id the model's vocabulary does not have (llama.cpp refuses it too). */
export class InvalidTokenError extends RangeError {
  override readonly name = 'InvalidTokenError';
  constructor(
    /** Position in the prompt. */
    readonly index: number,
    readonly id: number,
    readonly vocabSize: number,
  ) {
    super(
      `prompt token #${index} is ${id}, not a token of this model: ids run from 0 to ${vocabSize - 1}.`,
    );
  }
}

export interface TokenGenerationOptions {
  maxTokens: number;
  sampling: SamplingOptions;
  /** Ids that end generation (not yielded). */
  stopTokens?: ReadonlySet<number>;
  topLogits?: number;
  signal?: AbortSignal;
}

export interface DecodeStats {
  promptTokens: number;
  /** Prompt tokens run through the model; the ones before were reused from the KV cache. */
  prefillTokens: number;
  generatedTokens: number;
  prefillMs: number;
  decodeMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** Per decode token, measured on the last one. */
  dispatchesPerToken: number;
  submissionsPerToken: number;
  /** Bytes of streamed layers uploaded per decode token (0 when every layer is resident). */
  uploadBytesPerToken: number;
  weightBytesPerToken: number;
  kvBytesPerToken: number;
  stopReason: StopReason;
}

/**
 * What generation needs of a model: one device's `GgufModel`, or a model split across two
 * devices (`SplitModel`), which hands the hidden state from one to the other inside `runPass`.
 */
export interface PassModel {
  readonly hparams: ModelHparams;
  readonly prefillChunk: number;
  readonly options: { contextTokens: number };
  writeInputs(tokens: number[], position: number): void;
  writeSampling(words: ArrayBuffer, history: Uint32Array | null): void;
  runPass(ntok: number, sample: boolean, topLogits: boolean): Promise<PassCounters>;
  readResult(): Promise<Uint32Array>;
  readLogits(): Promise<Float32Array>;
}

/** How many leading ids two sequences share. */
export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export class TokenGenerator {
  /** The ids whose keys and values are in the KV cache, at positions 0 to length - 1. */
  cached: number[] = [];
  submissions = 0;
  private lastPass: PassCounters = {
    dispatches: 0,
    weightBytes: 0,
    submissions: 0,
    uploadBytes: 0,
  };

  constructor(readonly model: PassModel) {}

  /** Tokens in the KV cache. */
  get position(): number {
    return this.cached.length;
  }

  reset(): void {
    this.cached = [];
  }

  private writeSampling(
    sampling: SamplingOptions,
    history: number[],
    topLogits: number,
    step: number,
  ) {
    const recent = history.slice(-Math.min(sampling.repetitionLastN, MAX_PENALTY_TOKENS));
    const penalize = sampling.repetitionPenalty !== 1 && recent.length > 0;
    const words = packStruct(SAMPLING, {
      greedy: sampling.temperature <= 0 ? 1 : 0,
      top_k: sampling.topK,
      history: penalize ? recent.length : 0,
      top_logits: topLogits,
      temperature: sampling.temperature,
      top_p: sampling.topP,
      min_p: sampling.minP,
      penalty: sampling.repetitionPenalty,
      uniform01: seededUniform(sampling.seed, step),
    });
    this.model.writeSampling(words, penalize ? new Uint32Array(recent) : null);
  }

  /**
   * Runs `tokens` at the current position; with `sample`, also the output layer and the sampler
   * after the last token, and returns the chosen id.
   */
  private async pass(
    tokens: number[],
    sample: {
      sampling: SamplingOptions;
      history: number[];
      topLogits: number;
      step: number;
    } | null,
  ): Promise<GeneratedToken | null> {
    const model = this.model;
    model.writeInputs(tokens, this.position);
    if (sample) this.writeSampling(sample.sampling, sample.history, sample.topLogits, sample.step);
    const counters = await model.runPass(
      tokens.length,
      sample !== null,
      (sample?.topLogits ?? 0) > 0,
    );
    this.submissions += counters.submissions;
    this.lastPass = counters;
    this.cached.push(...tokens);
    if (!sample) return null;
    const words = await model.readResult();
    const result: GeneratedToken = { id: words[0] };
    if (sample.topLogits > 0) {
      const floats = new Float32Array(words.buffer);
      result.topLogits = Array.from({ length: sample.topLogits }, (_, k) => ({
        id: words[1 + 2 * k],
        logit: floats[2 + 2 * k],
      }));
    }
    return result;
  }

  /**
   * Streams generated tokens after `prompt`; `done` receives the statistics when it ends. The
   * prompt's leading tokens that the KV cache already holds are not run again (at least the last
   * one is, to sample from); the cache then holds the prompt and the generated tokens fed back.
   */
  async *generate(
    prompt: number[],
    options: TokenGenerationOptions,
    done?: (stats: DecodeStats) => void,
  ): AsyncGenerator<GeneratedToken> {
    const model = this.model;
    const ctx = model.options.contextTokens;
    const topLogits = Math.min(options.topLogits ?? 0, MAX_TOP_LOGITS);
    if (prompt.length === 0) throw new Error('the prompt has no tokens; give at least one');
    // Ids go to the GPU as u32: 2^32 would wrap to 0 and an id past the vocabulary would read
    // another tensor's bytes, so every id is checked before anything is written.
    const vocabSize = model.hparams.vocabSize;
    prompt.forEach((id, index) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new InvalidTokenError(index, id, vocabSize);
      }
    });
    if (prompt.length > ctx) {
      throw new Error(
        `the prompt needs ${prompt.length} tokens of context but the model was ` +
          `loaded with ${ctx}; shorten the conversation or load with a longer context.`,
      );
    }
    const reused = Math.min(commonPrefix(this.cached, prompt), prompt.length - 1);
    this.cached.length = reused;
    const fresh = prompt.slice(reused);
    const history = [...prompt];
    let stopReason: StopReason = 'max-tokens';
    let generated = 0;
    const start = performance.now();
    let next: GeneratedToken | null = null;
    const chunk = model.prefillChunk;
    try {
      for (let i = 0; i < fresh.length; i += chunk) {
        if (options.signal?.aborted) {
          stopReason = 'aborted';
          next = null;
          break;
        }
        const part = fresh.slice(i, i + chunk);
        const last = i + chunk >= fresh.length;
        next = await this.pass(
          part,
          last ? { sampling: options.sampling, history, topLogits, step: 0 } : null,
        );
      }
    } catch (error) {
      // A pass that failed part-way leaves the cache's contents unknown.
      this.reset();
      throw error;
    }
    const prefillMs = performance.now() - start;
    const decodeStart = performance.now();
    let decodeTokens = 0;
    try {
      while (next && generated < options.maxTokens) {
        if (options.signal?.aborted) {
          stopReason = 'aborted';
          break;
        }
        if (options.stopTokens?.has(next.id)) {
          stopReason = 'eos';
          break;
        }
        yield next;
        generated++;
        history.push(next.id);
        if (generated >= options.maxTokens) break;
        if (options.signal?.aborted) {
          stopReason = 'aborted';
          break;
        }
        if (this.position >= ctx) {
          stopReason = 'context-full';
          break;
        }
        next = await this.pass([next.id], {
          sampling: options.sampling,
          history,
          topLogits,
          step: generated,
        });
        decodeTokens++;
      }
    } catch (error) {
      this.reset();
      throw error;
    } finally {
      const decodeMs = performance.now() - decodeStart;
      const h = model.hparams;
      done?.({
        promptTokens: prompt.length,
        prefillTokens: fresh.length,
        generatedTokens: generated,
        prefillMs,
        decodeMs,
        prefillTokensPerSecond: fresh.length / Math.max(prefillMs / 1000, 1e-9),
        decodeTokensPerSecond: decodeTokens / Math.max(decodeMs / 1000, 1e-9),
        dispatchesPerToken: this.lastPass.dispatches,
        submissionsPerToken: this.lastPass.submissions,
        uploadBytesPerToken: this.lastPass.uploadBytes,
        weightBytesPerToken: this.lastPass.weightBytes,
        kvBytesPerToken:
          h.blockCount * h.headCount * this.position * (h.keyLength + h.valueLength) * 2,
        stopReason,
      });
    }
  }
}
