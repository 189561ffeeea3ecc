// Imports a local .gguf (from a file picker or a drop) into the store one chunk at a time: only one
// chunk of the file is in memory at once. Importing the same file again fills in missing or
// damaged chunks only.
import { ChunkWriter, completeModel } from './chunk-writer';
import { StoreError, checkGgufMagic } from './errors';
import {
  chunkSpan,
  idForFile,
  isSha256Hex,
  missingRuns,
  newManifest,
  storedBytes,
  type HeaderSummary,
  type ModelManifest,
} from './manifest';
import type { ModelStore } from './model-store';
import { checkQuota, lockName, type StorageEnv } from './quota';
import type { ProgressSink } from './transfer';

/** What a `File` offers; a `Blob` with a name will do. */
export interface ImportableFile {
  readonly name: string;
  readonly size: number;
  readonly lastModified?: number;
  slice(start: number, end: number): Blob;
}

export interface ImportOptions {
  chunkBytes: number;
  expectedSha256?: string;
  header?: HeaderSummary;
}

export async function importFile(
  store: ModelStore,
  env: StorageEnv,
  file: ImportableFile,
  options: ImportOptions,
  signal: AbortSignal,
  sink: ProgressSink,
): Promise<ModelManifest> {
  if (!/\.gguf$/i.test(file.name)) {
    throw new StoreError(
      'bad-input',
      `${file.name} is not a .gguf file: choose a GGUF model file.`,
    );
  }
  if (file.size === 0) throw new StoreError('bad-input', `${file.name} is empty.`);
  if (options.expectedSha256 !== undefined && !isSha256Hex(options.expectedSha256)) {
    throw new StoreError(
      'bad-input',
      `"${options.expectedSha256}" is not a SHA-256 (64 hex digits).`,
    );
  }
  checkGgufMagic(new Uint8Array(await file.slice(0, 16).arrayBuffer()), file.name);
  const id = idForFile(file.name, file.size);
  return env.withLock(lockName(id), async () => {
    let manifest = await store.getManifest(id);
    if (manifest?.state === 'complete') return manifest;
    await checkQuota(env, file.size - (manifest ? storedBytes(manifest) : 0), file.name);
    if (!manifest) {
      manifest = newManifest({
        id,
        source: { kind: 'file', name: file.name, lastModified: file.lastModified ?? 0 },
        name: file.name,
        size: file.size,
        chunkBytes: options.chunkBytes,
        expectedSha256: options.expectedSha256 ?? null,
        header: options.header ?? null,
      });
      manifest.persisted = (await env.persisted()) || (await env.persist());
      await store.putManifest(manifest);
    }
    let writer: ChunkWriter | null = null;
    try {
      for (const [first, end] of missingRuns(manifest)) {
        await writer?.flush();
        writer = new ChunkWriter(store, manifest, sink);
        writer.begin(first);
        for (let index = first; index < end; index++) {
          signal.throwIfAborted();
          const { start, end: stop } = chunkSpan(manifest, index);
          const bytes = new Uint8Array(await file.slice(start, stop).arrayBuffer());
          if (bytes.length !== stop - start) {
            throw new StoreError(
              'bad-input',
              `${file.name} changed while it was being read: import it again.`,
            );
          }
          await writer.push(bytes, end - 1);
        }
      }
    } catch (error) {
      // Let the chunk already handed to IndexedDB land (or fail with its own reason) first.
      await writer?.flush();
      throw error;
    }
    await writer?.flush();
    try {
      return await completeModel(store, manifest, sink, writer?.completeFileHash ?? null, signal);
    } catch (error) {
      if (!(error instanceof StoreError) || error.code !== 'hash-mismatch') throw error;
      // The file is not the one expected: keeping its bytes would only block a correct import.
      await store.deleteModel(id);
      throw new StoreError(
        'hash-mismatch',
        `${error.message} The import was discarded: choose the file with that SHA-256.`,
      );
    }
  });
}
