// The calibration probe as the app runs it: once per adapter and session, on a device of its own
// that is destroyed afterwards. It measures upload and weight-read rates, and checks the memory
// budget by allocating up to the planner's estimate. On a software adapter "GPU memory" is the
// CPU's RAM, so it only allocates enough to measure the rates there.
import { calibrate } from '../../gpu/calibrate';
import { browserEnvironment, openProbedDevice, type AdapterReport } from '../../gpu/probe';
import { estimateBudget } from '../../plan/budget';
import { figuresFromCalibration, type DeviceFigures } from '../../plan/device';

const MiB = 2 ** 20;
const SOFTWARE_TARGET_BYTES = 512 * MiB;
const CHUNK_BYTES = 64 * MiB;

export type CalibrationRecord =
  | { status: 'running'; targetBytes: number }
  | {
      status: 'done';
      targetBytes: number;
      allocatedBytes: number;
      stoppedBy: 'target' | 'out-of-memory' | 'validation';
      stopMessage: string | null;
      figures: DeviceFigures;
    }
  | { status: 'error'; message: string };

export function calibrationTarget(
  adapter: Pick<AdapterReport, 'class'>,
  deviceMemoryGiB: number | undefined,
): { targetBytes: number; estimateBytes: number } {
  const estimateBytes = estimateBudget({ adapterClass: adapter.class, deviceMemoryGiB }).value;
  const targetBytes =
    adapter.class === 'software' ? Math.min(estimateBytes, SOFTWARE_TARGET_BYTES) : estimateBytes;
  return { targetBytes, estimateBytes };
}

/**
 * The figures the planner may use. A run that reached a target below the estimate says nothing
 * about the budget (only the rates count); one that stopped early found a real ceiling.
 */
export function trustedFigures(
  result: Parameters<typeof figuresFromCalibration>[0] & { stoppedBy: string },
  targetBytes: number,
  estimateBytes: number,
): DeviceFigures {
  const figures = figuresFromCalibration(result);
  if (result.stoppedBy === 'target' && targetBytes < estimateBytes) delete figures.calibratedBytes;
  return figures;
}

class CalibrationState {
  records = $state<Record<string, CalibrationRecord>>({});

  /** Figures from a finished run on the adapter a power preference picks. */
  figuresFor(preference: GPUPowerPreference): DeviceFigures | undefined {
    const record = this.records[preference];
    return record?.status === 'done' ? record.figures : undefined;
  }

  /** Runs once per adapter and session unless `again`. */
  async run(adapter: AdapterReport, deviceMemoryGiB: number | undefined, again = false) {
    const key = adapter.preferences[0];
    const current = this.records[key];
    if (current && (current.status === 'running' || !again)) return;
    const gpu = browserEnvironment().gpu;
    if (!gpu) return;
    const { targetBytes, estimateBytes } = calibrationTarget(adapter, deviceMemoryGiB);
    this.records[key] = { status: 'running', targetBytes };
    try {
      const engine = await openProbedDevice(gpu, key, { label: 'layerwise-calibration' });
      try {
        const chunkBytes = Math.min(
          CHUNK_BYTES,
          Math.floor(engine.device.limits.maxBufferSize / 4) * 4,
        );
        const result = await calibrate(engine.device, { targetBytes, chunkBytes });
        for (const chunk of result.chunks) chunk.destroy();
        this.records[key] = {
          status: 'done',
          targetBytes,
          allocatedBytes: result.allocatedBytes,
          stoppedBy: result.stoppedBy,
          stopMessage: result.stopMessage,
          figures: trustedFigures(result, targetBytes, estimateBytes),
        };
      } finally {
        engine.device.destroy();
      }
    } catch (error) {
      this.records[key] = {
        status: 'error',
        message: `The calibration probe failed (${error instanceof Error ? error.message : String(error)}); plans use estimates instead.`,
      };
    }
  }
}

export const calibrationState = new CalibrationState();
