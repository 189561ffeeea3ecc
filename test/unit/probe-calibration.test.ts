import { describe, expect, it } from 'vitest';
import { calibrationTarget, trustedFigures } from '../../src/app/hardware/calibration.svelte';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

const run = (allocatedBytes: number, stoppedBy: 'target' | 'out-of-memory') => ({
  allocatedBytes,
  stoppedBy,
  uploadBytesPerSecond: 3e9,
  computeBytesPerSecond: 5e9,
  roundTripSeconds: 0.002,
});

describe('calibration in the app', () => {
  it('asks a software adapter for enough memory to time it, a real GPU for the whole estimate', () => {
    expect(calibrationTarget({ class: 'software' }, 8)).toEqual({
      targetBytes: 512 * MiB,
      estimateBytes: 4 * GiB,
    });
    expect(calibrationTarget({ class: 'discrete' }, 8)).toEqual({
      targetBytes: 4 * GiB,
      estimateBytes: 4 * GiB,
    });
    expect(calibrationTarget({ class: 'integrated' }, 16)).toEqual({
      targetBytes: 8 * GiB,
      estimateBytes: 8 * GiB,
    });
  });

  it('keeps the rates but not the budget when it stopped at a target below the estimate', () => {
    expect(trustedFigures(run(512 * MiB, 'target'), 512 * MiB, 4 * GiB)).toEqual({
      uploadBytesPerSecond: 3e9,
      computeBytesPerSecond: 5e9,
      roundTripSeconds: 0.002,
    });
  });

  it('uses what it allocated as the budget when the GPU refused more or the estimate held', () => {
    expect(trustedFigures(run(3 * GiB, 'out-of-memory'), 4 * GiB, 4 * GiB).calibratedBytes).toBe(
      3 * GiB,
    );
    expect(trustedFigures(run(4 * GiB, 'target'), 4 * GiB, 4 * GiB).calibratedBytes).toBe(4 * GiB);
  });
});
