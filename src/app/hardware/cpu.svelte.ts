// The CPU as the CPU engine would use it, for the whole app: calibrated once, in workers (so the
// page never stops for it), and shared by the Hardware view, the Models view's engine choice and
// the chat's model loads. Plans wait for it: they need its rates.
import { browserCpuFacts, describeCpu, measureReadRate } from '../../engine/cpu-probe';
import { measureReadRateInWorker, measureThreadedReadRate } from '../../engine/cpu-threads';
import type { CpuDescription } from '../../plan/cpu';

class CpuState {
  /** Null until the calibration has run. */
  description = $state.raw<CpuDescription | null>(null);
  private pending: Promise<CpuDescription> | null = null;

  /** Runs the calibration once; later calls return the same description. */
  calibrate(): Promise<CpuDescription> {
    this.pending ??= (async () => {
      const facts = browserCpuFacts();
      // Where no worker can run, the page measures one thread itself.
      const single = (await measureReadRateInWorker()) ?? measureReadRate();
      const threaded = await measureThreadedReadRate(facts.isolated ? facts.logicalCores : 1).catch(
        () => null,
      );
      return (this.description = describeCpu(facts, single, threaded));
    })();
    return this.pending;
  }
}

export const cpuState = new CpuState();
