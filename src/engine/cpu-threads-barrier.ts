// The barrier and messages of the threaded read calibration, shared by the page and its workers.

export interface ThreadsJob {
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

export interface ThreadsResult {
  steps: number;
  ms: number;
  checksum: number;
}

/** Waits, spinning, until all `threads` have arrived (llama.cpp's threads spin, not sleep). */
export function barrier(state: Int32Array, threads: number): void {
  const generation = Atomics.load(state, 1);
  if (Atomics.add(state, 0, 1) === threads - 1) {
    Atomics.store(state, 0, 0);
    Atomics.add(state, 1, 1);
    return;
  }
  while (Atomics.load(state, 1) === generation) {
    // Spin: a thread that is not scheduled keeps every other one waiting here.
  }
}
