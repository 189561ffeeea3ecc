// Token-level generation over a loaded model: chunked prefill, then one queue submission per
// decode token that embeds the previous token, runs every layer, the output layer and the GPU
// sampler, and copies back only the chosen id (plus the top logits when asked). The chosen id stays
// on the GPU for the next pass's embedding, so the next tokens are submitted before the earlier
// ids come back; a speculative tail past the end (a stop token, the token limit, a caller that
// stops reading) is simply not taken into the cache's bookkeeping.
import { packStruct, SAMPLING } from './kernels/host-structs';
import { MAX_PENALTY_TOKENS, MAX_TOP_LOGITS, SAMPLED_RING } from './buffer-plan';
import type { HistoryWrite, PassCounters, SampledPass } from './model';
import type { ModelHparams } from './types';
import { isGreedy, seededUniform } from './sampler';
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
  /**
   * Each sampling pass copies its id into the next pass's input on the GPU, so a decode pass can
   * be submitted with `writeStep` before the previous id is read back.
   */
  readonly feedsBack: boolean;
  /**
   * `runPass` submits its pass before it returns (one device), so the next prefill pass may be
   * written and submitted before this one has run; else each waits for the one before.
   */
  readonly submitsAtOnce: boolean;
  writeInputs(tokens: number[], position: number): void;
  writeStep(ntok: number, position: number): void;
  writeSampling(words: ArrayBuffer, history: HistoryWrite | null): void;
  /** Runs a pass that samples nothing to completion. */
  runPass(ntok: number): Promise<PassCounters>;
  /** Submits a pass that samples after its last token (at most `SAMPLED_RING` unread at once). */
  submitSampling(
    ntok: number,
    options: { topLogits: boolean; greedy: boolean },
  ): Promise<SampledPass>;
  readSampled(pass: SampledPass): Promise<Uint32Array>;
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

  /** The sampler's uniform for the pass that chooses token number `step` of the reply. */
  private writeSampling(
    sampling: SamplingOptions,
    historyLength: number,
    topLogits: number,
    step: number,
    prompt: number[] | null,
  ) {
    const window = Math.min(sampling.repetitionLastN, MAX_PENALTY_TOKENS, historyLength);
    const penalize = sampling.repetitionPenalty !== 1 && window > 0;
    const words = packStruct(SAMPLING, {
      greedy: isGreedy(sampling) ? 1 : 0,
      top_k: sampling.topK,
      history: penalize ? window : 0,
      top_logits: topLogits,
      temperature: sampling.temperature,
      top_p: sampling.topP,
      min_p: sampling.minP,
      penalty: sampling.repetitionPenalty,
      uniform01: seededUniform(sampling.seed, step),
      history_end: historyLength,
    });
    // The prompt's tail goes into the history ring once; the sampler appends each id it chooses.
    const tail = prompt && penalize ? prompt.slice(-MAX_PENALTY_TOKENS) : null;
    this.model.writeSampling(
      words,
      tail ? { start: prompt!.length - tail.length, ids: new Uint32Array(tail) } : null,
    );
  }

  private decodeWords(words: Uint32Array, topLogits: number): GeneratedToken {
    const result: GeneratedToken = { id: words[0] };
    if (topLogits > 0) {
      const floats = new Float32Array(words.buffer);
      result.topLogits = Array.from({ length: topLogits }, (_, k) => ({
        id: words[1 + 2 * k],
        logit: floats[2 + 2 * k],
      }));
    }
    return result;
  }

  private count(counters: PassCounters): void {
    this.submissions += counters.submissions;
    this.lastPass = counters;
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
    const { sampling } = options;
    const greedy = isGreedy(sampling);
    const passOptions = { topLogits: topLogits > 0, greedy };
    let stopReason: StopReason = 'max-tokens';
    const start = performance.now();
    const chunk = model.prefillChunk;
    /** Sampling passes submitted and not yet read, oldest first; each yields the next token. */
    const inFlight: SampledPass[] = [];
    // The prefill pass submitted last and not yet waited for (`submitsAtOnce`): each pass is
    // submitted before the one ahead of it is waited for, so the GPU does not idle while the host
    // encodes the next.
    let running: Promise<PassCounters> | undefined;
    try {
      for (let i = 0; i < fresh.length; i += chunk) {
        if (options.signal?.aborted) {
          stopReason = 'aborted';
          break;
        }
        const part = fresh.slice(i, i + chunk);
        model.writeInputs(part, this.position);
        if (i + chunk >= fresh.length) {
          this.writeSampling(sampling, prompt.length, topLogits, 0, prompt);
          const pass = await model.submitSampling(part.length, passOptions);
          this.count(pass.counters);
          inFlight.push(pass);
        } else if (model.submitsAtOnce) {
          const ahead = running;
          running = model.runPass(part.length);
          if (ahead) this.count(await ahead);
        } else {
          this.count(await model.runPass(part.length));
        }
        this.cached.push(...part);
      }
      if (running) this.count(await running);
    } catch (error) {
      await running?.catch(() => undefined);
      // A pass that failed part-way leaves the cache's contents unknown.
      this.reset();
      throw error;
    }
    // Prefill ends when its token is back (the passes are submitted without waiting).
    let prefillMs = performance.now() - start;
    let decodeStart = performance.now();
    /** Tokens of the reply read back so far, and how many of them were yielded. */
    const reply: number[] = [];
    let generated = 0;
    /** Decode passes submitted: pass k feeds reply token k - 1 at position prompt.length + k - 1. */
    let submitted = 0;
    let decodeTokens = 0;
    const depth = model.feedsBack ? SAMPLED_RING : 1;
    const submitDecode = async () => {
      submitted++;
      const position = prompt.length + submitted - 1;
      if (model.feedsBack) model.writeStep(1, position);
      else model.writeInputs([reply[submitted - 1]], position);
      this.writeSampling(sampling, prompt.length + submitted, topLogits, submitted, null);
      const pass = await model.submitSampling(1, passOptions);
      this.count(pass.counters);
      inFlight.push(pass);
    };
    /**
     * Decode pass k feeds reply token k - 1: worth running while that token may be yielded and
     * followed, and (without feedback on the GPU) once its id is known.
     */
    const mayRun = (k: number) =>
      k < options.maxTokens &&
      prompt.length + k - 1 < ctx &&
      (model.feedsBack || reply.length >= k) &&
      !options.signal?.aborted;
    let failed = false;
    try {
      for (;;) {
        // Keep the GPU busy: queue passes for tokens not read back yet, up to the ring's depth.
        while (inFlight.length < depth && mayRun(submitted + 1)) await submitDecode();
        const pass = inFlight.shift();
        if (!pass) break;
        const next = this.decodeWords(await model.readSampled(pass), topLogits);
        if (reply.length === 0) {
          decodeStart = performance.now();
          prefillMs = decodeStart - start;
        }
        reply.push(next.id);
        if (reply.length > 1) decodeTokens++;
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
        if (generated >= options.maxTokens) break;
        if (options.signal?.aborted) {
          stopReason = 'aborted';
          break;
        }
        if (prompt.length + generated > ctx) {
          stopReason = 'context-full';
          break;
        }
      }
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      const decodeMs = performance.now() - decodeStart;
      const h = model.hparams;
      // Passes still in flight are read so their readback slots are free for the next call.
      for (const pass of inFlight.splice(0)) {
        await model.readSampled(pass).catch(() => (failed = true));
      }
      // The cache holds the inputs of the decode passes that ran, as far as they were yielded.
      if (failed) this.reset();
      else this.cached.push(...reply.slice(0, Math.min(generated, submitted)));
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
