// The messages and the barrier of the CPU calibration workers (cpu-threads.ts), shared by the page
// and its workers.
import type { Figure } from '../plan/types';

/** One thread alone, as measureReadRate measures it. */
export interface SingleJob {
  kind: 'single';
}

/** One of `threads` workers reading a shared array together. */
export interface ThreadsJob {
  kind: 'together';
  /** The array the threads read (a SharedArrayBuffer). */
  data: SharedArrayBuffer;
  /** Barrier state: [arrived, generation, stop]. */
  sync: SharedArrayBuffer;
  index: number;
  threads: number;
  /** 32-bit words each thread reads per step. */
  stepWords: number;
  /** Milliseconds after which the threads stop at the next barrier. */
  budgetMs: number;
}

export type CalibrationJob = SingleJob | ThreadsJob;

export interface ThreadsResult {
  steps: number;
  ms: number;
  checksum: number;
}

export type CalibrationResult = Figure | ThreadsResult;

/**
 * Waits until all `threads` have arrived: spinning, as llama.cpp's threads do, or (`sleep`) asleep
 * in Atomics.wait, so that a thread started early does not burn a core while the others start.
 */
export function barrier(state: Int32Array, threads: number, sleep = false): void {
  const generation = Atomics.load(state, 1);
  if (Atomics.add(state, 0, 1) === threads - 1) {
    Atomics.store(state, 0, 0);
    Atomics.add(state, 1, 1);
    Atomics.notify(state, 1);
    return;
  }
  while (Atomics.load(state, 1) === generation) {
    // A spinning thread that is not scheduled keeps every other one waiting here.
    if (sleep) Atomics.wait(state, 1, generation);
  }
}
