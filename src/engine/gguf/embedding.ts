// The engine's embedding mode: no output layer, no sampling. A decoder (Qwen3-Embedding) runs each
// text as one sequence from position 0, in prefill chunks; after every chunk the hidden states of
// its tokens are read back, passed through the final RMSNorm (`output_norm.weight`, as llama.cpp
// does before pooling). An encoder (the BERT family) runs many texts per pass, packed back to back
// with attention kept within each ([CLS] ... [SEP]), and its last LayerNorm's output is pooled as
// is. Pooling is as the GGUF's `<arch>.pooling_type` says: the mean over tokens, the first token
// (CLS) or the last token. The pooled vector is L2-normalised.
import { hasIntegerDotProduct, type EngineDevice } from '../../gpu/device';
import { ARCHITECTURES } from './architectures';
import { EncoderModel } from './encoder-model';
import { choosePrecision, defaultLanesPerRow } from './engine';
import type { ComputeWish } from '../../plan/types';
import { GgufFormatError } from './errors';
import { checkSupported, parseHeader } from './header';
import { GgufModel } from './model';
import { vectorToF32 } from './repack';
import { GgufTokenizer } from './tokenizer';
import type { ModelHeader, ModelSource } from './types';

export type Pooling = 'mean' | 'cls' | 'last';

/** llama.cpp's `enum llama_pooling_type` values the engine can pool by. */
const POOLING_TYPES: Record<number, Pooling> = { 1: 'mean', 2: 'cls', 3: 'last' };

export function poolingOf(header: ModelHeader): Pooling {
  const arch = header.hparams.architecture;
  const key = `${arch}.pooling_type`;
  const raw = header.metadata[key];
  const pooling = raw === undefined ? undefined : POOLING_TYPES[Number(raw)];
  if (!pooling) {
    throw new GgufFormatError(
      'bad-metadata',
      raw === undefined
        ? `${header.hparams.name} is not an embedding model (it has no ${key}); choose an embedding GGUF such as Qwen3-Embedding or bge-small.`
        : `Pooling type ${String(raw)} (${key}) is not supported: the engine pools by mean (1), CLS (2) or last token (3).`,
      key,
    );
  }
  return pooling;
}

export function l2Normalise(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  return v.map((x) => x * scale);
}

/** Context an embedding model is loaded with unless asked otherwise: chunks are far shorter. */
export const DEFAULT_EMBEDDING_CONTEXT = 1024;

export interface EmbedderLoadOptions {
  contextTokens?: number;
  precision?: ComputeWish;
  prefillChunk?: number;
  signal?: AbortSignal;
  onProgress?: (loaded: number, total: number) => void;
}

export interface EmbedOptions {
  signal?: AbortSignal;
  /** Called after each text with how many are done. */
  onProgress?: (done: number, total: number) => void;
}

export class Embedder {
  readonly pooling: Pooling;
  readonly tokenizer: GgufTokenizer;
  private readonly addEos: boolean;

  private constructor(
    readonly model: GgufModel | EncoderModel,
    readonly header: ModelHeader,
    /** The decoder's final RMSNorm weights; null for an encoder, whose last layer norms. */
    private readonly outputNorm: Float32Array | null,
  ) {
    this.pooling = poolingOf(header);
    this.tokenizer = new GgufTokenizer(header.metadata);
    this.addEos = Boolean(header.metadata['tokenizer.ggml.add_eos_token']);
  }

  /** Loads an embedding GGUF on one device, every layer resident. */
  static async load(
    device: EngineDevice,
    source: ModelSource,
    options: EmbedderLoadOptions = {},
  ): Promise<Embedder> {
    const header = await parseHeader(source);
    checkSupported(header);
    poolingOf(header);
    const contextTokens =
      options.contextTokens ?? Math.min(header.hparams.contextLength, DEFAULT_EMBEDDING_CONTEXT);
    if (ARCHITECTURES[header.hparams.architecture].encoder) {
      const encoder = await EncoderModel.load(device.device, source, header, {
        contextTokens,
        computePrecision: choosePrecision(device, options.precision),
        lanesPerRow: defaultLanesPerRow(device.adapterInfo),
        signal: options.signal,
        onProgress: options.onProgress,
      });
      return new Embedder(encoder, header, null);
    }
    const model = await GgufModel.load(device.device, source, header, {
      contextTokens,
      computePrecision: choosePrecision(device, options.precision),
      prefillChunk: options.prefillChunk,
      lanesPerRow: defaultLanesPerRow(device.adapterInfo),
      integerDotProduct: hasIntegerDotProduct(device),
      signal: options.signal,
      onProgress: options.onProgress,
    });
    try {
      return await Embedder.create(model, source, options.signal);
    } catch (error) {
      model.destroy();
      throw error;
    }
  }

  /** Wraps a loaded model: reads the final norm's weights; the output layer is never run. */
  static async create(
    model: GgufModel,
    source: ModelSource,
    signal?: AbortSignal,
  ): Promise<Embedder> {
    const header = model.header;
    poolingOf(header);
    const info = header.tensors.find((t) => t.name === 'output_norm.weight');
    if (!info) {
      throw new GgufFormatError(
        'missing-tensor',
        'output_norm.weight is missing from the model',
        'output_norm.weight',
      );
    }
    const norm = vectorToF32(info, await source.read(info.offset, info.bytes, signal));
    return new Embedder(model, header, norm);
  }

  get dims(): number {
    return this.header.hparams.embeddingLength;
  }

  get contextTokens(): number {
    return this.model.options.contextTokens;
  }

  /**
   * The ids a text is embedded from: BOS and EOS where the model's metadata asks for them;
   * [CLS] and [SEP] around a WordPiece (BERT) text.
   */
  tokens(text: string): number[] {
    const ids = this.tokenizer.encode(text, { parseSpecial: false });
    if (this.tokenizer.sep !== undefined) ids.push(this.tokenizer.sep);
    else if (this.addEos && this.tokenizer.eos !== undefined) ids.push(this.tokenizer.eos);
    return ids;
  }

  /** Tokens of a text without BOS/EOS: what the chunker measures chunks with. */
  countTokens = (text: string): number =>
    this.tokenizer.encode(text, { addBos: false, parseSpecial: false }).length;

  async embed(texts: string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    if (this.model instanceof EncoderModel) return this.embedPacked(this.model, texts, options);
    const out: Float32Array[] = [];
    for (const text of texts) {
      options.signal?.throwIfAborted();
      out.push(await this.embedOne(this.model, this.checkedTokens(text)));
      options.onProgress?.(out.length, texts.length);
    }
    return out;
  }

  private checkedTokens(text: string): number[] {
    const ids = this.tokens(text);
    // [CLS] and [SEP] alone are no text.
    const own = this.tokenizer.sep !== undefined ? ids.length - 2 : ids.length;
    if (own <= 0) throw new Error('an empty text has no embedding; give at least one character');
    if (ids.length > this.contextTokens) {
      throw new Error(
        `the text has ${ids.length} tokens but the embedding model was loaded with a context of ` +
          `${this.contextTokens}; cut it into smaller chunks.`,
      );
    }
    return ids;
  }

  /**
   * An encoder's texts, as many per pass as its context holds, in order: each text's pooled
   * vector comes from its own rows of the pass.
   */
  private async embedPacked(
    encoder: EncoderModel,
    texts: string[],
    options: EmbedOptions,
  ): Promise<Float32Array[]> {
    const ids = texts.map((text) => this.checkedTokens(text));
    const n = this.dims;
    const out: Float32Array[] = [];
    while (out.length < texts.length) {
      options.signal?.throwIfAborted();
      const batch: number[][] = [];
      let total = 0;
      for (let i = out.length; i < texts.length; i++) {
        if (total + ids[i].length > encoder.contextTokens) break;
        batch.push(ids[i]);
        total += ids[i].length;
      }
      const rows = await encoder.run(batch);
      let start = 0;
      for (const sequence of batch) {
        const pooled = new Float64Array(n);
        const take = (row: number) => {
          for (let i = 0; i < n; i++) pooled[i] += rows[row * n + i];
        };
        if (this.pooling === 'mean') for (let r = 0; r < sequence.length; r++) take(start + r);
        else if (this.pooling === 'cls') take(start);
        else take(start + sequence.length - 1);
        out.push(l2Normalise(Float32Array.from(pooled)));
        start += sequence.length;
      }
      options.onProgress?.(out.length, texts.length);
    }
    return out;
  }

  private async embedOne(model: GgufModel, ids: number[]): Promise<Float32Array> {
    const h = this.header.hparams;
    // Summed rather than averaged for mean pooling: the L2 normalisation removes the count.
    const pooled = new Float64Array(h.embeddingLength);
    const chunk = model.prefillChunk;
    for (let at = 0; at < ids.length; at += chunk) {
      const part = ids.slice(at, at + chunk);
      model.writeInputs(part, at);
      await model.runPass(part.length);
      const rows = await this.readHidden(model, part.length);
      const take = (row: number) => this.addNormed(pooled, rows, row);
      if (this.pooling === 'mean') for (let r = 0; r < part.length; r++) take(r);
      else if (this.pooling === 'cls' && at === 0) take(0);
      else if (this.pooling === 'last' && at + part.length === ids.length) take(part.length - 1);
    }
    return l2Normalise(Float32Array.from(pooled));
  }

  /** Adds row `row` of `rows` after the final RMSNorm to `into`. */
  private addNormed(into: Float64Array, rows: Float32Array, row: number): void {
    const n = into.length;
    const x = rows.subarray(row * n, (row + 1) * n);
    let sum = 0;
    for (const v of x) sum += v * v;
    const scale = 1 / Math.sqrt(sum / n + this.header.hparams.rmsEpsilon);
    for (let i = 0; i < n; i++) into[i] += x[i] * scale * this.outputNorm![i];
  }

  private async readHidden(model: GgufModel, tokens: number): Promise<Float32Array> {
    const bytes = tokens * this.dims * 4;
    const staging = model.allocator.create(
      'scratch',
      'hidden.embedding-readback',
      bytes,
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    );
    try {
      const encoder = model.device.createCommandEncoder();
      encoder.copyBufferToBuffer(model.scratch.get('hidden')!, 0, staging, 0, bytes);
      model.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      return new Float32Array(staging.getMappedRange().slice(0));
    } finally {
      model.allocator.release(staging);
    }
  }

  unload(): void {
    this.model.destroy();
  }
}
