// Downloads a model file into the store with HTTP Range requests: one request per run of missing
// chunks (normally one for the rest of the file: hosts such as Hugging Face rate-limit many small
// requests), written chunk by chunk as bytes arrive, resumed from the manifest after a reload.
import { ChunkWriter, completeModel } from './chunk-writer';
import { StoreError, isAbort } from './errors';
import {
  chunkSpan,
  idForUrl,
  isSha256Hex,
  missingRuns,
  nameFromUrl,
  newManifest,
  resetChunks,
  storedBytes,
  type HeaderSummary,
  type ModelManifest,
} from './manifest';
import type { ModelStore } from './model-store';
import { checkQuota, lockName, type StorageEnv } from './quota';
import { requestRange, type RangeReply } from './range-request';
import type { ProgressSink } from './transfer';

export interface DownloadOptions {
  url: string;
  /** Defaults to the URL without its query string. */
  id?: string;
  /** The whole file's SHA-256 when the caller knows it (a catalogue entry, the Hub's tree API). */
  expectedSha256?: string;
  /** The file's size when known beforehand, so the quota check needs no request. */
  size?: number;
  header?: HeaderSummary;
  /** Chunk size of a model not stored yet. */
  chunkBytes: number;
  fetch?: typeof fetch;
  /** Consecutive failures without progress before giving up. */
  retries?: number;
  /** First wait after a failure; doubles each time, up to 30 s. */
  backoffMs?: number;
}

export async function downloadModel(
  store: ModelStore,
  env: StorageEnv,
  options: DownloadOptions,
  signal: AbortSignal,
  sink: ProgressSink,
): Promise<ModelManifest> {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new StoreError(
      'bad-input',
      `"${options.url}" is not a URL. Paste the file's full https:// address.`,
    );
  }
  if (options.expectedSha256 !== undefined && !isSha256Hex(options.expectedSha256)) {
    throw new StoreError(
      'bad-input',
      `"${options.expectedSha256}" is not a SHA-256 (64 hex digits).`,
    );
  }
  const id = options.id ?? idForUrl(url.href);
  return env.withLock(lockName(id), () =>
    new Download(store, env, { ...options, url: url.href }, id, signal, sink).run(),
  );
}

class Download {
  private readonly fetch: typeof fetch;
  private manifest: ModelManifest | undefined;
  private writer: ChunkWriter | null = null;
  private hashRetried = false;

  constructor(
    private readonly store: ModelStore,
    private readonly env: StorageEnv,
    private readonly options: DownloadOptions,
    private readonly id: string,
    private readonly signal: AbortSignal,
    private readonly sink: ProgressSink,
  ) {
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  async run(): Promise<ModelManifest> {
    this.manifest = await this.store.getManifest(this.id);
    if (this.manifest?.state === 'complete') return this.manifest;
    if (this.manifest && this.manifest.source.kind !== 'url') {
      throw new StoreError(
        'bad-input',
        `${this.manifest.name} was imported from a file: import it again.`,
      );
    }
    const known = this.manifest?.size ?? this.options.size;
    if (known !== undefined) {
      await this.checkQuota(known - (this.manifest ? storedBytes(this.manifest) : 0));
    }
    const retries = this.options.retries ?? 6;
    let failures = 0;
    for (;;) {
      const before = this.progressMark();
      try {
        await this.fillMissing();
        return await completeModel(
          this.store,
          this.manifest!,
          this.sink,
          this.writer?.completeFileHash ?? null,
          this.signal,
        );
      } catch (error) {
        if (this.signal.aborted || isAbort(error)) throw error;
        if (!(error instanceof StoreError)) throw error;
        if (error.code === 'not-gguf') {
          await this.discardIfEmpty();
          throw error;
        }
        if (error.code === 'hash-mismatch') {
          await this.startOver();
          if (this.hashRetried) {
            throw new StoreError(
              'hash-mismatch',
              `${error.message} This happened twice, so the stored bytes were discarded: check the ` +
                'URL and the expected SHA-256, then download again.',
            );
          }
          // Without per-chunk hashes from the host, corruption in transit cannot be pinned to
          // a chunk: fetch the whole file once more.
          this.hashRetried = true;
          this.sink.status('retrying', `${error.message} Downloading the file again.`);
          continue;
        }
        if (!error.retryable) throw error;
        if (!this.env.onLine()) {
          // Failures while offline say nothing about the server: wait, and spend no retries.
          this.sink.status(
            'offline',
            'Offline: the download continues when the connection is back.',
          );
          await this.env.waitOnline(this.signal);
          this.sink.status('running');
          failures = 0;
          continue;
        }
        failures = this.progressMark() > before ? 1 : failures + 1;
        if (failures > retries) {
          throw new StoreError(
            error.code,
            `${error.message} Gave up after ${retries} retries: resume the download later.`,
          );
        }
        await this.waitBeforeRetry(error, failures);
      }
    }
  }

  private progressMark(): number {
    return (
      (this.manifest ? storedBytes(this.manifest) : 0) + Math.max(0, this.writer?.position ?? 0)
    );
  }

  private async waitBeforeRetry(error: StoreError, failures: number): Promise<void> {
    const base = this.options.backoffMs ?? 1000;
    const wait =
      error.retryAfterSeconds !== null
        ? error.retryAfterSeconds * 1000
        : Math.min(30_000, base * 2 ** (failures - 1));
    this.sink.status('retrying', `${error.message} Retrying in ${Math.ceil(wait / 1000)} s.`);
    await sleep(wait, this.signal);
    this.sink.status('running');
  }

  /** Requests each run of missing chunks in turn; a partly filled chunk continues at its byte. */
  private async fillMissing(): Promise<void> {
    for (;;) {
      const manifest = this.manifest;
      if (!manifest) {
        const reply = await this.request(0, null);
        await this.adopt(reply);
        if (!(await this.startWriting(reply, 0))) continue;
        await this.consume(reply, this.manifest!.chunks.length - 1);
        continue;
      }
      const run = missingRuns(manifest)[0];
      if (!run) return;
      const [first, end] = run;
      const writer = this.writer;
      const continuing = writer !== null && writer.chunkIndex >= first && writer.chunkIndex < end;
      const start = continuing ? writer.position : chunkSpan(manifest, first).start;
      const stop = chunkSpan(manifest, end - 1).end;
      const reply = await this.request(start, stop === manifest.size ? null : stop - 1);
      if (this.changed(manifest, reply)) {
        await this.adopt(reply);
        if (!(await this.startWriting(reply, 0))) continue;
        await this.consume(reply, this.manifest!.chunks.length - 1);
      } else if (reply.start !== start) {
        // A 200 carries the whole file from byte 0: take it rather than mix two transfers.
        await this.startOver();
        if (!(await this.startWriting(reply, 0))) continue;
        await this.consume(reply, manifest.chunks.length - 1);
      } else {
        if (!continuing) await this.startWriting(reply, first);
        await this.consume(reply, end - 1);
      }
    }
  }

  /**
   * Whether the reply is from another version of the file than the stored chunks. A SHA-256 the
   * host states settles it. Without one in the reply, a SHA-256 the manifest already expects (a Hub
   * file behind CDNs whose ETags differ from host to host) makes validators moot: mixed bytes would
   * fail the final hash check anyway. Otherwise ETag, then Last-Modified decide; one that was
   * given at first and is missing now counts as a change.
   */
  private changed(manifest: ModelManifest, reply: RangeReply): boolean {
    if (reply.total !== manifest.size) return true;
    if (reply.linkedSha256 !== null && manifest.expectedSha256 !== null) {
      return reply.linkedSha256 !== manifest.expectedSha256;
    }
    if (manifest.expectedSha256 !== null) return false;
    // A validator the first answer gave and this one lacks proves nothing: treat it as changed.
    if (manifest.etag !== null) return reply.etag !== manifest.etag;
    if (manifest.lastModified !== null) return reply.lastModified !== manifest.lastModified;
    return false;
  }

  /** Makes a fresh manifest for the file the reply describes, dropping chunks of an older one. */
  private async adopt(reply: RangeReply): Promise<void> {
    const old = this.manifest;
    await this.checkQuota(reply.total, reply.response);
    await this.writer?.flush().catch(() => undefined);
    const manifest = newManifest({
      id: this.id,
      source: { kind: 'url', url: this.options.url },
      name: nameFromUrl(this.options.url),
      size: reply.total,
      chunkBytes: old?.chunkBytes ?? this.options.chunkBytes,
      etag: reply.etag,
      lastModified: reply.lastModified,
      expectedSha256: this.options.expectedSha256 ?? reply.linkedSha256,
      header: this.options.header ?? old?.header ?? null,
    });
    manifest.persisted = old?.persisted ?? (await this.askPersistence());
    this.manifest = manifest;
    this.writer = null;
    // The manifest that lists no chunk lands before the old chunks go, so no manifest ever lists
    // a chunk that is not there.
    await this.store.putManifest(manifest);
    if (old) await this.store.deleteChunks(this.id);
  }

  /** A new writer at chunk `index`; false (body dropped) when the reply does not start there. */
  private async startWriting(reply: RangeReply, index: number): Promise<boolean> {
    const manifest = this.manifest!;
    if (reply.start !== chunkSpan(manifest, index).start) {
      await reply.response.body?.cancel();
      return false;
    }
    await this.writer?.flush();
    this.writer = new ChunkWriter(this.store, manifest, this.sink);
    this.writer.begin(index);
    return true;
  }

  private async startOver(): Promise<void> {
    const manifest = this.manifest!;
    await this.writer?.flush().catch(() => undefined);
    this.writer = null;
    resetChunks(manifest);
    await this.store.putManifest(manifest);
    await this.store.deleteChunks(this.id);
  }

  /** Stores the reply's body up to the end of `lastChunk`; a body longer than promised is refused. */
  private async consume(reply: RangeReply, lastChunk: number): Promise<void> {
    const writer = this.writer!;
    const reader = reply.response.body!.getReader();
    try {
      for (;;) {
        const chunk = await this.read(reader, writer.position);
        if (chunk.done) break;
        if (writer.position + chunk.value.length > reply.end + 1) await this.refuseLongBody(reply);
        await writer.push(chunk.value, lastChunk);
        if (writer.chunkIndex > lastChunk) break;
      }
      // The body must end with the file: bytes past it mean the headers described another file.
      if (writer.chunkIndex > lastChunk && reply.end === this.manifest!.size - 1) {
        const after = await this.read(reader, writer.position);
        if (!after.done && after.value.length > 0) await this.refuseLongBody(reply);
      }
    } catch (error) {
      // Let the chunk already handed to IndexedDB land (or fail with its own reason) first.
      await writer.flush();
      throw error;
    } finally {
      reader.cancel().catch(() => undefined);
    }
    await writer.flush();
    if (writer.chunkIndex <= lastChunk) {
      throw new StoreError(
        'network',
        `The connection closed early at byte ${writer.position}.`,
        true,
      );
    }
  }

  private async read(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    position: number,
  ): Promise<ReadableStreamReadResult<Uint8Array>> {
    try {
      return await reader.read();
    } catch (error) {
      if (this.signal.aborted || isAbort(error)) throw error;
      throw new StoreError('network', `The connection broke at byte ${position}.`, true);
    }
  }

  /** Drops what this file stored and refuses the host: its body runs past its stated end. */
  private async refuseLongBody(reply: RangeReply): Promise<never> {
    await this.startOver();
    throw new StoreError(
      'bad-input',
      `The server sent more than bytes ${reply.start}-${reply.end} of ${reply.total} it stated, so ` +
        'nothing from it was kept: the host is misconfigured; download the file from another host.',
    );
  }

  /** A model refused before any chunk was stored leaves no entry behind. */
  private async discardIfEmpty(): Promise<void> {
    await this.writer?.flush().catch(() => undefined);
    const manifest = await this.store.getManifest(this.id);
    if (manifest && manifest.chunks.every((hash) => hash === null)) {
      await this.store.deleteModel(this.id);
    }
  }

  /** A range of the file; when the server says the range is past its end, the whole new file. */
  private async request(start: number, last: number | null): Promise<RangeReply> {
    try {
      return await requestRange(this.fetch, this.options.url, start, last, this.signal);
    } catch (error) {
      if (!(error instanceof StoreError) || error.code !== 'changed' || start === 0) throw error;
      return requestRange(this.fetch, this.options.url, 0, null, this.signal);
    }
  }

  private async checkQuota(bytes: number, response?: Response): Promise<void> {
    try {
      await checkQuota(this.env, bytes, nameFromUrl(this.options.url));
    } catch (error) {
      await response?.body?.cancel();
      throw error;
    }
  }

  private async askPersistence(): Promise<boolean | null> {
    return (await this.env.persisted()) || this.env.persist();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', aborted);
      resolve();
    }, ms);
    const aborted = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', aborted, { once: true });
  });
}
