// The model store's front door for the app: lists, downloads, imports, verifies and deletes
// stored models, and opens one as a ModelSource for the engine.
import { configuredChunkBytes } from './config';
import { downloadModel, type DownloadOptions } from './download';
import { StoreError } from './errors';
import { importFile, type ImportableFile, type ImportOptions } from './import';
import { idForFile, idForUrl, storedBytes, type ModelManifest } from './manifest';
import { StoreModelSource, type StoreSourceOptions } from './model-source';
import { ModelStore } from './model-store';
import { browserEnv, lockName, type StorageEnv } from './quota';
import { Transfer, type ProgressSink, type TransferProgress } from './transfer';
import { verifyModel, type VerifyReport } from './verify';

export interface StorageSummary {
  usage: number | null;
  quota: number | null;
  persisted: boolean | null;
}

export class ModelLibrary {
  constructor(
    readonly store: ModelStore = new ModelStore(),
    readonly env: StorageEnv = browserEnv(),
    private readonly chunkBytes: () => number = configuredChunkBytes,
  ) {}

  list(): Promise<ModelManifest[]> {
    return this.store.listManifests();
  }

  async summary(): Promise<StorageSummary> {
    const [estimate, persisted] = await Promise.all([this.env.estimate(), this.env.persisted()]);
    return { usage: estimate?.usage ?? null, quota: estimate?.quota ?? null, persisted };
  }

  /** A download ready to `run()`; run it again to resume after a pause, an error or a reload. */
  download(
    options: Omit<DownloadOptions, 'chunkBytes'> & { chunkBytes?: number },
    onProgress?: (progress: TransferProgress) => void,
  ): Transfer {
    const id = options.id ?? safeIdForUrl(options.url);
    const chunkBytes = options.chunkBytes ?? this.chunkBytes();
    return new Transfer(
      id,
      options.url,
      (signal, sink) =>
        downloadModel(this.store, this.env, { ...options, id, chunkBytes }, signal, sink),
      () => this.remove(id),
      onProgress,
      () => this.storedBytes(id),
    );
  }

  importFile(
    file: ImportableFile,
    options: Partial<ImportOptions> = {},
    onProgress?: (progress: TransferProgress) => void,
  ): Transfer {
    const chunkBytes = options.chunkBytes ?? this.chunkBytes();
    return new Transfer(
      idForFile(file.name, file.size),
      file.name,
      (signal, sink) =>
        importFile(this.store, this.env, file, { ...options, chunkBytes }, signal, sink),
      () => this.remove(idForFile(file.name, file.size)),
      onProgress,
      () => this.storedBytes(idForFile(file.name, file.size)),
    );
  }

  verify(
    id: string,
    sink: ProgressSink,
    signal = new AbortController().signal,
  ): Promise<VerifyReport> {
    return verifyModel(this.store, this.env, id, signal, sink);
  }

  /** Deletes a model and its chunks; refused while another tab transfers it. */
  remove(id: string): Promise<void> {
    return this.env.withLock(lockName(id), () => this.store.deleteModel(id));
  }

  async storedBytes(id: string): Promise<number> {
    const manifest = await this.store.getManifest(id);
    return manifest ? storedBytes(manifest) : 0;
  }

  open(id: string, options?: StoreSourceOptions): Promise<StoreModelSource> {
    return StoreModelSource.open(this.store, id, options);
  }
}

function safeIdForUrl(url: string): string {
  try {
    return idForUrl(url);
  } catch {
    throw new StoreError(
      'bad-input',
      `"${url}" is not a URL. Paste the file's full https:// address.`,
    );
  }
}
