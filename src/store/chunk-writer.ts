// Cuts a stream of a file's bytes into the manifest's chunks and stores each one with its hash.
// Shared by downloads and imports; also completes a model once every chunk is stored.
import { StoreError, checkGgufMagic, formatBytes, isQuotaExceeded } from './errors';
import { Sha256, sha256Hex, type Sha256State } from './hash';
import { chunkSpan, needsChunk, storedBytes, type ModelManifest } from './manifest';
import type { ModelStore } from './model-store';
import type { ProgressSink } from './transfer';

export class ChunkWriter {
  private index = -1;
  private buffer = new Uint8Array(0);
  private filled = 0;
  /** Hash of the file up to `position`; null when the bytes before it were not seen in order. */
  private fileHash: Sha256 | null = null;
  private pendingWrite: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ModelStore,
    private readonly manifest: ModelManifest,
    private readonly sink: ProgressSink,
  ) {}

  /** File offset of the next byte this writer expects, or -1 before `begin`. */
  get position(): number {
    return this.index < 0 ? -1 : chunkSpan(this.manifest, this.index).start + this.filled;
  }

  get chunkIndex(): number {
    return this.index;
  }

  /** The file hash, when every byte of the file went through this writer's hash in order. */
  get completeFileHash(): Sha256 | null {
    return this.fileHash?.length === this.manifest.size ? this.fileHash : null;
  }

  /**
   * Starts a run of needed chunks at `index` (dropping any partly filled chunk). Call `flush`
   * first when a previous run was written, so the saved file hash is up to date.
   */
  begin(index: number): void {
    this.index = index;
    this.startChunk();
    const state = this.manifest.hashState;
    this.fileHash =
      state.bytes === chunkSpan(this.manifest, index).start ? Sha256.resume(state) : null;
  }

  /** Appends bytes at `position` up to the end of chunk `lastChunk`; returns how many were taken. */
  async push(bytes: Uint8Array, lastChunk: number): Promise<number> {
    let taken = 0;
    while (taken < bytes.length && this.index <= lastChunk) {
      const piece = bytes.subarray(taken, taken + this.buffer.length - this.filled);
      this.buffer.set(piece, this.filled);
      this.fileHash?.update(piece);
      this.filled += piece.length;
      taken += piece.length;
      if (this.filled === this.buffer.length) await this.finishChunk();
    }
    this.sink.bytes(storedBytes(this.manifest) + this.filled, this.manifest.size);
    return taken;
  }

  /** Waits for the last chunk write; rethrows its failure. */
  flush(): Promise<void> {
    return this.pendingWrite;
  }

  private startChunk(): void {
    const { start, end } = chunkSpan(this.manifest, this.index);
    this.buffer = new Uint8Array(Math.max(0, end - start));
    this.filled = 0;
  }

  private async finishChunk(): Promise<void> {
    const index = this.index;
    const bytes = this.buffer;
    const end = chunkSpan(this.manifest, index).end;
    // Checked before the first chunk is stored, so a page that is not a model never lands.
    if (index === 0) checkGgufMagic(bytes, this.manifest.name);
    const hashState = this.fileHash && end % 64 === 0 ? this.fileHash.save() : null;
    // One write in flight while the next chunk fills: the network keeps flowing during the write.
    await this.pendingWrite;
    this.pendingWrite = this.write(index, bytes, hashState);
    this.pendingWrite.catch(() => undefined);
    this.index++;
    this.startChunk();
  }

  private async write(
    index: number,
    bytes: Uint8Array,
    hashState: Sha256State | null,
  ): Promise<void> {
    const hash = await sha256Hex(bytes);
    const manifest = this.manifest;
    if (manifest.damagedChunks.includes(index) && manifest.chunks[index] !== hash) {
      throw new StoreError(
        'damaged',
        `The new copy of chunk ${index} of ${manifest.name} differs from the one first stored: ` +
          'the source is not the same file. Delete the model and store it again.',
      );
    }
    const hashes = manifest.chunks.slice();
    hashes[index] = hash;
    const damaged = manifest.damagedChunks.filter((i) => i !== index);
    const saved =
      hashState && hashState.bytes > manifest.hashState.bytes ? hashState : manifest.hashState;
    try {
      await this.store.putChunk(manifest.id, index, bytes);
      await this.store.putManifest({
        ...manifest,
        chunks: hashes,
        damagedChunks: damaged,
        hashState: saved,
      });
    } catch (error) {
      if (!isQuotaExceeded(error)) throw error;
      throw new StoreError(
        'storage-full',
        `The browser ran out of storage after ${formatBytes(storedBytes(manifest))} of ` +
          `${formatBytes(manifest.size)} of ${manifest.name}. What was stored is kept: delete ` +
          'another model in Storage or free disk space, then resume.',
      );
    }
    // The in-memory manifest changes only once IndexedDB holds the chunk and lists it.
    manifest.chunks[index] = hash;
    manifest.damagedChunks = damaged;
    manifest.hashState = saved;
  }
}

/**
 * Marks a model complete once every chunk is stored, after checking the whole file's SHA-256
 * against the expected one. The hash continues from the manifest's saved state, reading back from
 * the store only what was not hashed on the way in. On a mismatch the caller decides what to keep.
 */
export async function completeModel(
  store: ModelStore,
  manifest: ModelManifest,
  sink: ProgressSink,
  liveHash: Sha256 | null,
  signal: AbortSignal,
): Promise<ModelManifest> {
  if (manifest.chunks.some((_, index) => needsChunk(manifest, index))) {
    throw new StoreError('missing', `${manifest.name} still has chunks to store.`);
  }
  if (manifest.sha256 === null) {
    let hash = liveHash;
    if (!hash) {
      hash = Sha256.resume(manifest.hashState);
      sink.status('verifying');
      for (let index = hash.length / manifest.chunkBytes; index < manifest.chunks.length; index++) {
        signal.throwIfAborted();
        hash.update(await store.getChunk(manifest.id, index));
        sink.bytes(chunkSpan(manifest, index).end, manifest.size);
      }
    }
    manifest.sha256 = hash.digestHex();
  }
  if (manifest.expectedSha256 && manifest.sha256 !== manifest.expectedSha256) {
    const found = manifest.sha256;
    throw new StoreError(
      'hash-mismatch',
      `The stored bytes of ${manifest.name} hash to ${found}, but the expected SHA-256 is ` +
        `${manifest.expectedSha256}.`,
    );
  }
  manifest.state = 'complete';
  await store.putManifest(manifest);
  sink.bytes(manifest.size, manifest.size);
  return manifest;
}
