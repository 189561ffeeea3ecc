// A download or an import as the UI drives it: progress with rate and ETA, pause (keeps what is
// stored), resume (continues from the manifest), cancel (deletes the partial model).
import type { ModelManifest } from './manifest';

export type TransferStatus =
  'running' | 'retrying' | 'offline' | 'verifying' | 'paused' | 'complete' | 'cancelled' | 'error';

export interface TransferProgress {
  status: TransferStatus;
  /** Bytes of the file stored (or, while verifying, hashed). */
  loaded: number;
  total: number;
  bytesPerSecond: number;
  /** null until a rate is known. */
  etaSeconds: number | null;
  message: string | null;
}

/** What a transfer task reports as it goes. */
export interface ProgressSink {
  bytes(loaded: number, total: number): void;
  status(status: TransferStatus, message?: string | null): void;
}

export type TransferTask = (signal: AbortSignal, sink: ProgressSink) => Promise<ModelManifest>;

export type TransferOutcome =
  { kind: 'complete'; manifest: ModelManifest } | { kind: 'paused' } | { kind: 'cancelled' };

/** Rate over the last few seconds, so a stall shows as a falling rate rather than a frozen one. */
export class RateMeter {
  private samples: { time: number; bytes: number }[] = [];
  constructor(private readonly windowMs = 5000) {}

  add(time: number, bytes: number): void {
    this.samples.push({ time, bytes });
    while (this.samples.length > 2 && time - this.samples[0].time > this.windowMs) {
      this.samples.shift();
    }
  }

  reset(): void {
    this.samples = [];
  }

  bytesPerSecond(): number {
    if (this.samples.length < 2) return 0;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = (last.time - first.time) / 1000;
    return seconds > 0 ? Math.max(0, last.bytes - first.bytes) / seconds : 0;
  }
}

export class Transfer {
  progress: TransferProgress;
  private controller: AbortController | null = null;
  private running: Promise<TransferOutcome> | null = null;
  private stopAs: 'paused' | 'cancelled' = 'paused';
  private readonly meter = new RateMeter();

  constructor(
    readonly id: string,
    readonly name: string,
    private readonly task: TransferTask,
    private readonly discard: () => Promise<void>,
    private readonly onProgress: (progress: TransferProgress) => void = () => {},
    /** Bytes the store holds for this model: what a paused transfer shows and resumes from. */
    private readonly storedBytes: () => Promise<number> = async () => this.progress.loaded,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.progress = {
      status: 'paused',
      loaded: 0,
      total: 0,
      bytesPerSecond: 0,
      etaSeconds: null,
      message: null,
    };
  }

  /** Starts, or resumes after a pause or an error; resolves when it completes, pauses or is cancelled. */
  run(): Promise<TransferOutcome> {
    if (this.running) return this.running;
    const controller = new AbortController();
    this.controller = controller;
    this.stopAs = 'paused';
    this.meter.reset();
    this.set({ status: 'running', message: null });
    const sink: ProgressSink = {
      bytes: (loaded, total) => {
        if (controller.signal.aborted) return;
        this.meter.add(this.now(), loaded);
        const rate = this.meter.bytesPerSecond();
        this.set({
          loaded,
          total,
          bytesPerSecond: rate,
          etaSeconds: rate > 0 ? (total - loaded) / rate : null,
        });
      },
      status: (status, message = null) => {
        if (!controller.signal.aborted) this.set({ status, message });
      },
    };
    this.running = this.task(controller.signal, sink)
      .then(
        (manifest): TransferOutcome => {
          this.set({
            status: 'complete',
            loaded: manifest.size,
            total: manifest.size,
            etaSeconds: 0,
          });
          return { kind: 'complete', manifest };
        },
        async (error: unknown): Promise<TransferOutcome> => {
          if (!controller.signal.aborted) {
            this.set({ status: 'error', message: (error as Error).message ?? String(error) });
            throw error;
          }
          if (this.stopAs === 'cancelled') {
            await this.discard();
            this.set({ status: 'cancelled', message: null, loaded: 0 });
            return { kind: 'cancelled' };
          }
          // Bytes of a chunk not yet complete are not kept: show what a resume starts from.
          const loaded = await this.storedBytes().catch(() => this.progress.loaded);
          this.set({
            status: 'paused',
            message: null,
            loaded,
            bytesPerSecond: 0,
            etaSeconds: null,
          });
          return { kind: 'paused' };
        },
      )
      .finally(() => {
        this.running = null;
        this.controller = null;
      });
    return this.running;
  }

  pause(): void {
    this.stopAs = 'paused';
    this.controller?.abort(new DOMException('paused', 'AbortError'));
  }

  /** Stops the transfer and deletes what it stored; also discards a paused or failed transfer. */
  async cancel(): Promise<void> {
    this.stopAs = 'cancelled';
    if (this.running) {
      this.controller?.abort(new DOMException('cancelled', 'AbortError'));
      await this.running.catch(() => undefined);
      return;
    }
    await this.discard();
    this.set({ status: 'cancelled', message: null, loaded: 0 });
  }

  private set(changes: Partial<TransferProgress>): void {
    this.progress = { ...this.progress, ...changes };
    this.onProgress(this.progress);
  }
}
