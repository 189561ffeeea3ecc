// The CPU as the CPU engine would use it, for the whole app: read and calibrated on first use, and
// shared by the Hardware view, the Models view's engine choice and the chat's model loads. One
// thread's read rate is measured at once (a fraction of a second), so a plan never waits for it;
// the threaded calibration runs in workers once (calibrate) and then sharpens the description.
import { browserCpuFacts, describeCpu, measureReadRate } from '../../engine/cpu-probe';
import { measureThreadedReadRate } from '../../engine/cpu-threads';
import type { CpuDescription } from '../../plan/cpu';
import type { Figure } from '../../plan/types';

class CpuState {
  /** Plain, not reactive: measured once while a derived value or a template reads it. */
  private single: CpuDescription | null = null;
  /** undefined until the threaded calibration has run; null where it cannot (no isolation). */
  private threaded = $state.raw<Figure | null | undefined>(undefined);
  private combined: CpuDescription | null = null;
  private pending: Promise<CpuDescription> | null = null;

  get description(): CpuDescription {
    this.single ??= describeCpu(browserCpuFacts(), measureReadRate());
    const threaded = this.threaded;
    if (threaded === undefined) return this.single;
    this.combined ??= { ...this.single, threadedReadRate: threaded };
    return this.combined;
  }

  /** Whether the threaded calibration has run (or found it cannot). */
  get calibrated(): boolean {
    return this.threaded !== undefined;
  }

  /** Runs the threaded calibration once; later calls return the same description. */
  calibrate(): Promise<CpuDescription> {
    this.pending ??= (async () => {
      const facts = browserCpuFacts();
      const threaded = await measureThreadedReadRate(facts.isolated ? facts.logicalCores : 1).catch(
        () => null,
      );
      this.threaded = threaded;
      return this.description;
    })();
    return this.pending;
  }
}

export const cpuState = new CpuState();
