// The CPU as the CPU engine would use it, for the whole app: read and calibrated once, on first
// use, and shared by the Hardware view, the Models view's engine choice and the chat's model
// loads. It never changes afterwards, so it needs no reactive state (and reading it from a
// derived value or a template is safe).
import { browserCpuFacts, describeCpu, measureReadRate } from '../../engine/cpu-probe';
import type { CpuDescription } from '../../plan/cpu';

class CpuState {
  private measured: CpuDescription | null = null;

  /** Measures on first use (a fraction of a second of reading memory). */
  get description(): CpuDescription {
    this.measured ??= describeCpu(browserCpuFacts(), measureReadRate());
    return this.measured;
  }
}

export const cpuState = new CpuState();
