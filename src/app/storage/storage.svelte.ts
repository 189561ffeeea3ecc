// State of the Storage view (and of anything else that lists, adds or removes stored models, such
// as the Models view): stored models, transfers in progress, usage against quota, persistence.
// Everything that touches IndexedDB goes through src/store.
import { browserEnvironment, openProbedDevice } from '../../gpu/probe';
import { benchStoreReads, type ReadBenchResult } from '../../store/bench';
import { StoreError } from '../../store/errors';
import { storedBytes, type HeaderSummary, type ModelManifest } from '../../store/manifest';
import { ModelLibrary, type StorageSummary } from '../../store/models';
import type { Transfer, TransferProgress } from '../../store/transfer';
import { session } from '../session.svelte';

/** One row of the Storage view. */
export interface StorageEntry {
  id: string;
  /** Which list the row came from: `gguf` for the model store, others from extra sources. */
  kind: string;
  name: string;
  /** Where the bytes came from: a URL, an imported file, or a description. */
  source: string;
  /** Bytes of the whole model; null where unknown. */
  size: number | null;
  /** Bytes stored so far (differs from `size` while partial). */
  stored: number | null;
  state: string;
  lastUsed: number | null;
  damagedChunks: number[];
  /** Whether the row can be verified, resumed and benchmarked (store models only). */
  storeModel: boolean;
  resumable: boolean;
  sha256: string | null;
  persisted: boolean | null;
  /** What the model is (architecture, parameters, file type), as its adder described it. */
  header: HeaderSummary | null;
}

/** More rows from elsewhere (WebLLM's cache): listed and deleted through their own helpers. */
export interface ExtraEntrySource {
  kind: string;
  list(): Promise<StorageEntry[]>;
  remove(id: string): Promise<void>;
}

export interface VerifyState {
  loaded: number;
  total: number;
  result: string | null;
}

/** Ids of downloads running when the page went away; they continue on the next visit. */
const ACTIVE_KEY = 'layerwise:store-active-downloads';

export class StorageState {
  entries = $state<StorageEntry[]>([]);
  summary = $state<StorageSummary>({ usage: null, quota: null, persisted: null });
  transfers = $state<Record<string, TransferProgress & { name: string }>>({});
  verifying = $state<Record<string, VerifyState>>({});
  benchmarks = $state<Record<string, ReadBenchResult | string>>({});
  error = $state<string | null>(null);
  loaded = $state(false);
  /** Transfers started in this page, kept after a pause or an error so Resume continues them. */
  // Not rendered (their progress is mirrored into `transfers`), so a plain Map.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private readonly running = new Map<string, { transfer: Transfer; download: boolean }>();
  private readonly extraSources: ExtraEntrySource[] = [];
  private resumedOnce = false;
  private refreshing: Promise<void> | null = null;
  private queuedRefresh: Promise<void> | null = null;

  constructor(readonly library: ModelLibrary = new ModelLibrary()) {}

  addSource(source: ExtraEntrySource): void {
    this.extraSources.push(source);
    void this.refresh();
  }

  /** Loads the list; on the first call also resumes downloads a reload interrupted. */
  async load(): Promise<void> {
    if (!this.resumedOnce) {
      // Chunks left by a delete that a closed tab interrupted.
      await this.library.store.sweepOrphans().catch(() => 0);
    }
    await this.refresh();
    if (this.resumedOnce) return;
    this.resumedOnce = true;
    for (const id of activeIds()) {
      const entry = this.entries.find((e) => e.id === id);
      if (entry?.resumable && !this.running.has(id)) void this.resume(id);
      else if (!entry || entry.state === 'complete') setActive(id, false);
    }
  }

  /** Re-reads the list; calls made while a read is running share one more read after it. */
  refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.read().finally(() => (this.refreshing = null));
      return this.refreshing;
    }
    // The running read may predate the caller's change, so the caller waits for the next one.
    this.queuedRefresh ??= this.refreshing.then(() => {
      this.queuedRefresh = null;
      return this.refresh();
    });
    return this.queuedRefresh;
  }

  private async read(): Promise<void> {
    try {
      const [manifests, damaged, summary, ...extra] = await Promise.all([
        this.library.list(),
        this.library.store.damagedRecords(),
        this.library.summary(),
        ...this.extraSources.map((s) => s.list()),
      ]);
      this.entries = [...manifests.map(entryFor), ...damaged.map(damagedEntry), ...extra.flat()];
      this.summary = summary;
    } catch (error) {
      this.error = `Could not read stored models: ${describe(error)}`;
    } finally {
      this.loaded = true;
    }
  }

  /** `details` come from a catalogue entry: the size lets the quota check run before any request. */
  addUrl(
    url: string,
    expectedSha256?: string,
    details: { size?: number; header?: HeaderSummary } = {},
  ): void {
    this.error = null;
    const sha = expectedSha256?.trim() || undefined;
    try {
      const transfer: Transfer = this.library.download(
        { url: url.trim(), expectedSha256: sha, ...details },
        (p) => this.report(transfer, p),
      );
      this.start(transfer, true);
    } catch (error) {
      this.error = describe(error);
    }
  }

  importFiles(files: Iterable<File>): void {
    this.error = null;
    for (const file of files) {
      const transfer: Transfer = this.library.importFile(file, {}, (p) => this.report(transfer, p));
      this.start(transfer, false);
    }
  }

  pause(id: string): void {
    this.running.get(id)?.transfer.pause();
  }

  async resume(id: string): Promise<void> {
    const existing = this.running.get(id);
    if (existing) {
      this.track(existing.transfer, existing.download);
      return;
    }
    const entry = this.entries.find((e) => e.id === id);
    if (!entry?.resumable || !entry.source.startsWith('http')) {
      this.error = `${entry?.name ?? id} was imported from a file: import the same file again to finish it.`;
      return;
    }
    const transfer: Transfer = this.library.download({ url: entry.source, id }, (p) =>
      this.report(transfer, p),
    );
    this.start(transfer, true);
  }

  async cancel(id: string): Promise<void> {
    const transfer = this.running.get(id)?.transfer;
    setActive(id, false);
    if (transfer) await transfer.cancel();
    else await this.library.remove(id);
    this.running.delete(id);
    delete this.transfers[id];
    await this.refresh();
  }

  async remove(id: string): Promise<void> {
    this.error = null;
    try {
      const entry = this.entries.find((e) => e.id === id);
      const extra = this.extraSources.find((s) => s.kind === entry?.kind);
      if (this.running.has(id)) await this.cancel(id);
      else if (extra) await extra.remove(id);
      else await this.library.remove(id);
      await this.unloadIfChosen(id);
    } catch (error) {
      this.error = describe(error);
    }
    await this.refresh();
  }

  /** A deleted model cannot stay loaded in the chat: its bytes are gone. */
  private async unloadIfChosen(id: string): Promise<void> {
    const choice = session.choice;
    const chosen =
      choice?.kind === 'gguf'
        ? choice.source.type === 'store' && choice.source.modelId === id
        : choice?.id === id;
    if (chosen) await session.forget();
    await session.refreshStored(this.library).catch(() => undefined);
  }

  /** Re-hashes every chunk; damaged chunks of a downloaded model are fetched again at once. */
  async verify(id: string): Promise<void> {
    this.error = null;
    this.verifying[id] = { loaded: 0, total: 0, result: null };
    try {
      const report = await this.library.verify(id, {
        bytes: (loaded, total) => {
          this.verifying[id] = { loaded, total, result: null };
        },
        status: () => {},
      });
      const imported = report.manifest.source.kind === 'file';
      this.verifying[id] = {
        loaded: report.manifest.size,
        total: report.manifest.size,
        result:
          report.damaged.length === 0
            ? `All ${report.checked} chunks match their SHA-256.`
            : `Damaged chunks: ${report.damaged.join(', ')}. ` +
              (imported
                ? 'Import the same file again to replace them.'
                : 'Downloading them again.'),
      };
      await this.refresh();
      if (report.damaged.length > 0 && !imported) await this.resume(id);
    } catch (error) {
      this.verifying[id] = { loaded: 0, total: 0, result: describe(error) };
    }
  }

  /** Store-to-GPU read throughput against raw IndexedDB reads of the same model. */
  async benchmark(id: string): Promise<void> {
    this.benchmarks[id] = 'Measuring…';
    try {
      const gpu = browserEnvironment().gpu;
      if (!gpu) throw new Error('This browser has no WebGPU: see the Hardware view.');
      const { device, adapterInfo } = await openProbedDevice(gpu, 'high-performance');
      try {
        const name = adapterInfo.description || `${adapterInfo.vendor} ${adapterInfo.architecture}`;
        this.benchmarks[id] = await benchStoreReads(this.library.store, id, device, name.trim());
      } finally {
        device.destroy();
      }
    } catch (error) {
      this.benchmarks[id] = `Could not measure: ${describe(error)}`;
    }
  }

  private start(transfer: Transfer, download: boolean): void {
    if (this.running.has(transfer.id)) {
      this.error = `${transfer.name} is already being stored.`;
      return;
    }
    this.running.set(transfer.id, { transfer, download });
    this.track(transfer, download);
  }

  private track(transfer: Transfer, download: boolean): void {
    if (download) setActive(transfer.id, true);
    void this.refresh();
    transfer.run().then(
      (outcome) => {
        if (outcome.kind !== 'paused') {
          this.running.delete(transfer.id);
          delete this.transfers[transfer.id];
        }
        setActive(transfer.id, false);
        void this.refresh();
      },
      async (error: unknown) => {
        const retryable = error instanceof StoreError && error.retryable;
        if (download && !retryable) setActive(transfer.id, false);
        // Refused before anything was stored (not a GGUF file, a misconfigured host): nothing
        // is in progress, so the refusal is said once and the transfer is dropped.
        const stored = await this.library.store.getManifest(transfer.id).catch(() => null);
        if (!retryable && stored === undefined) {
          this.running.delete(transfer.id);
          delete this.transfers[transfer.id];
          this.error = describe(error);
        }
        // Otherwise kept in `running` so Resume continues with the same transfer.
        void this.refresh();
      },
    );
  }

  private report(transfer: Transfer, progress: TransferProgress): void {
    const previous = this.transfers[transfer.id];
    this.transfers[transfer.id] = { ...progress, name: transfer.name };
    // The list shows a new model once its manifest exists (after the first bytes), and the
    // stored size whenever the transfer changes state.
    const listed = this.entries.some((e) => e.id === transfer.id);
    if ((!listed && progress.loaded > 0) || previous?.status !== progress.status) {
      void this.refresh();
    }
  }
}

function entryFor(manifest: ModelManifest): StorageEntry {
  const source =
    manifest.source.kind === 'url' ? manifest.source.url : `imported file ${manifest.source.name}`;
  return {
    id: manifest.id,
    kind: 'gguf',
    name: manifest.name,
    source,
    size: manifest.size,
    stored: storedBytes(manifest),
    state: manifest.damagedChunks.length > 0 ? 'damaged' : manifest.state,
    lastUsed: manifest.lastUsed,
    damagedChunks: manifest.damagedChunks,
    storeModel: true,
    resumable: manifest.state !== 'complete' || manifest.damagedChunks.length > 0,
    sha256: manifest.sha256,
    persisted: manifest.persisted,
    header: manifest.header,
  };
}

/** A stored record that fails the check: shown with what is wrong so it can be deleted. */
function damagedEntry(record: { id: string; problem: string }): StorageEntry {
  return {
    id: record.id,
    kind: 'gguf',
    name: record.id,
    source: `damaged record (${record.problem}): delete it and store the model again`,
    size: null,
    stored: null,
    state: 'damaged',
    lastUsed: null,
    damagedChunks: [],
    storeModel: false,
    resumable: false,
    sha256: null,
    persisted: null,
    header: null,
  };
}

function activeIds(): string[] {
  try {
    const parsed: unknown = JSON.parse(globalThis.localStorage?.getItem(ACTIVE_KEY) ?? '[]');
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function setActive(id: string, active: boolean): void {
  const ids = activeIds().filter((x) => x !== id);
  if (active) ids.push(id);
  globalThis.localStorage?.setItem(ACTIVE_KEY, JSON.stringify(ids));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export const storageState = new StorageState();
