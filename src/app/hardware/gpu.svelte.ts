// The probe's report for the whole app: read once, shared by the Hardware view, the Models view's
// plans and the Settings view's GPU choice.
import { probeGpu, type GpuReport, type ProbeResult } from '../../gpu/probe';

class GpuState {
  result = $state<ProbeResult | null>(null);
  private pending: Promise<ProbeResult> | null = null;

  /** The report when the probe succeeded, else null. */
  get report(): GpuReport | null {
    return this.result?.status === 'ok' ? this.result : null;
  }

  /** Runs the probe once; later calls return the same result. */
  probe(): Promise<ProbeResult> {
    this.pending ??= probeGpu().then(
      (result) => (this.result = result),
      (error: unknown) =>
        (this.result = {
          status: 'error',
          message: `Reading the GPU failed: ${error instanceof Error ? error.message : String(error)}`,
          advice: ['Reload the page. If it keeps failing, copy this message into a bug report.'],
          userAgent: navigator.userAgent,
        }),
    );
    return this.pending;
  }

  /** Reads the GPU again, e.g. after the person changed a browser setting. */
  reprobe(): Promise<ProbeResult> {
    this.pending = null;
    this.result = null;
    return this.probe();
  }
}

export const gpuState = new GpuState();
