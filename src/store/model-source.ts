// A stored model as a ModelSource: the engine reads tensors by offset and length, and only the
// chunks under the range are read from IndexedDB. The two most recent chunks stay in memory (a
// tensor often straddles a chunk boundary; reading tensors in file order then touches each chunk
// once), plus the next chunk read ahead, so a 4 GB model needs three chunks of JavaScript memory.
import type { ModelSource } from '../engine/gguf/types';
import { StoreError } from './errors';
import { sha256Hex } from './hash';
import { chunkSpan, needsChunk, type ModelManifest } from './manifest';
import type { ModelStore } from './model-store';
import { markDamaged } from './verify';

export interface StoreSourceOptions {
  /** Check each chunk's SHA-256 the first time this source reads it (integrity on load). */
  verify?: boolean;
  /** Chunks kept in memory. */
  cacheChunks?: number;
  /** Read and check the next chunk while the caller works on this one (sequential loads). */
  readAhead?: boolean;
}

export class StoreModelSource implements ModelSource {
  readonly name: string;
  readonly size: number;
  private readonly cache = new Map<number, Uint8Array>();
  private readonly verified = new Set<number>();
  private readonly verify: boolean;
  private readonly cacheChunks: number;
  private readonly readAhead: boolean;
  /** The one chunk being read ahead (its read may still be in flight). */
  private ahead: { index: number; bytes: Promise<Uint8Array> } | null = null;

  private constructor(
    private readonly store: ModelStore,
    readonly manifest: ModelManifest,
    options: StoreSourceOptions,
  ) {
    this.name = manifest.name;
    this.size = manifest.size;
    this.verify = options.verify ?? true;
    this.cacheChunks = Math.max(1, options.cacheChunks ?? 2);
    this.readAhead = options.readAhead ?? true;
  }

  /** Opens a complete model and records it as used now. */
  static async open(
    store: ModelStore,
    id: string,
    options: StoreSourceOptions = {},
  ): Promise<StoreModelSource> {
    const manifest = await store.getManifest(id);
    if (!manifest)
      throw new StoreError('missing', `No stored model ${id}: download or import it first.`);
    if (manifest.state !== 'complete' || manifest.chunks.some((_, i) => needsChunk(manifest, i))) {
      throw new StoreError(
        'missing',
        `${manifest.name} is not completely stored (${manifest.state}): finish or repair it in Storage first.`,
      );
    }
    await store.touch(id);
    return new StoreModelSource(store, manifest, options);
  }

  async read(offset: number, length: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new RangeError(
        `read of ${length} bytes at ${offset} is outside ${this.name} (${this.size} bytes)`,
      );
    }
    const out = new Uint8Array(length);
    const chunkBytes = this.manifest.chunkBytes;
    let written = 0;
    while (written < length) {
      signal?.throwIfAborted();
      const position = offset + written;
      const index = Math.floor(position / chunkBytes);
      const chunk = await this.chunk(index);
      const from = position - index * chunkBytes;
      const take = Math.min(length - written, chunk.length - from);
      out.set(chunk.subarray(from, from + take), written);
      written += take;
    }
    return out;
  }

  /** Every chunk in file order, for callers that stream the whole file. */
  async *chunks(signal?: AbortSignal): AsyncGenerator<{ offset: number; bytes: Uint8Array }> {
    for (let index = 0; index < this.manifest.chunks.length; index++) {
      signal?.throwIfAborted();
      yield { offset: chunkSpan(this.manifest, index).start, bytes: await this.chunk(index) };
    }
  }

  private async chunk(index: number): Promise<Uint8Array> {
    const cached = this.cache.get(index);
    if (cached) {
      this.cache.delete(index);
      this.cache.set(index, cached);
      return cached;
    }
    const ahead = this.ahead?.index === index ? this.ahead.bytes : null;
    const bytes = await (ahead ?? this.readChecked(index));
    // Read ahead: while the caller uploads this chunk, the next one is read and hashed.
    const next = index + 1;
    if (this.readAhead && next < this.manifest.chunks.length && !this.cache.has(next)) {
      if (this.ahead?.index !== next) {
        const read = this.readChecked(next);
        read.catch(() => undefined);
        this.ahead = { index: next, bytes: read };
      }
    } else if (this.ahead?.index === index) {
      this.ahead = null;
    }
    this.cache.set(index, bytes);
    while (this.cache.size > this.cacheChunks) {
      this.cache.delete(this.cache.keys().next().value as number);
    }
    return bytes;
  }

  private async readChecked(index: number): Promise<Uint8Array> {
    const bytes = await this.store.getChunk(this.manifest.id, index);
    if (this.verify && !this.verified.has(index)) {
      const { start, end } = chunkSpan(this.manifest, index);
      if (
        bytes.length !== end - start ||
        (await sha256Hex(bytes)) !== this.manifest.chunks[index]
      ) {
        await markDamaged(this.store, this.manifest.id, index);
        throw new StoreError(
          'damaged',
          `Chunk ${index} of ${this.name} (bytes ${start}-${end - 1}) is damaged on disk. ` +
            (this.manifest.source.kind === 'url'
              ? 'Open Storage and resume the model to download that chunk again.'
              : 'Import the file again in Storage to replace it.'),
        );
      }
      this.verified.add(index);
    }
    return bytes;
  }
}
