// Node only. While a map or a queue wait is pending, dawn.node polls its events from
// `setImmediate` on the main thread without pause, which on a machine of few cores takes a whole
// core from a CPU-backed adapter's own threads (lavapipe runs the kernels on them): measured on
// two cores, a decode token cost 94 ms of CPU for 50 ms of wall time, the main thread alone 43
// (docs/performance.md). A paced wait also sleeps the main thread PACED_WAIT_MS per turn of the
// event loop: Dawn still polls every turn, and the core goes to the adapter. Dawn takes about ten
// polls to settle even a finished wait, so a paced wait ends a few milliseconds late: the engine
// paces only the waits on whole passes (pass-wait.ts), which the decode ring keeps ahead of.

/** Milliseconds the main thread sleeps per event-loop turn while a paced wait is pending. */
export const PACED_WAIT_MS = 0.25;

const sleeper = new Int32Array(new SharedArrayBuffer(4));
let pending = 0;

/** Paced waits pending (the pacer runs while this is above zero). */
export function pendingPacedWaits(): number {
  return pending;
}

function pace(): void {
  if (pending === 0) return;
  Atomics.wait(sleeper, 0, 0, PACED_WAIT_MS);
  setImmediate(pace);
}

/** Waits for `promise` (a Dawn map or queue wait) with the main thread paced. */
export function pacedWait<T>(promise: Promise<T>): Promise<T> {
  if (pending++ === 0) setImmediate(pace);
  return promise.finally(() => {
    pending--;
  });
}
