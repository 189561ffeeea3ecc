// Node only. While a map, a queue wait or an asynchronous pipeline build is pending, dawn.node
// polls its events from `setImmediate` on the main thread without pause, which on a machine of few
// cores takes a whole core from a CPU-backed adapter's own threads (lavapipe runs the kernels on
// them): measured on two cores, a decode token cost 94 ms of CPU for 50 ms of wall time, the main
// thread alone 43 (docs/performance.md). Each such wait here also sleeps the main thread
// PACED_WAIT_MS per turn of the event loop: Dawn still polls every turn, a wait ends at most that
// much later, and the core goes to the adapter.

/** Milliseconds the main thread sleeps per event-loop turn while a GPU wait is pending. */
export const PACED_WAIT_MS = 0.5;

const sleeper = new Int32Array(new SharedArrayBuffer(4));
let pending = 0;

/** GPU waits pending through the paced methods (the pacer runs while this is above zero). */
export function pendingGpuWaits(): number {
  return pending;
}

function pace(): void {
  if (pending === 0) return;
  Atomics.wait(sleeper, 0, 0, PACED_WAIT_MS);
  setImmediate(pace);
}

function paced<T>(promise: Promise<T>): Promise<T> {
  if (pending++ === 0) setImmediate(pace);
  return promise.finally(() => {
    pending--;
  });
}

type AsyncMethod = (...args: never[]) => Promise<unknown>;

function paceMethod(prototype: object, name: string): void {
  const owner = prototype as Record<string, AsyncMethod>;
  const method = owner[name];
  if (typeof method !== 'function') throw new Error(`dawn.node has no ${name} to pace`);
  owner[name] = function (this: unknown, ...args: never[]) {
    return paced(method.apply(this, args));
  };
}

/** Paces the waits of the classes in `webgpu`'s `globals` (once per process). */
export function paceDawnWaits(classes: Record<string, { prototype: object }>): void {
  paceMethod(classes.GPUBuffer.prototype, 'mapAsync');
  paceMethod(classes.GPUQueue.prototype, 'onSubmittedWorkDone');
  paceMethod(classes.GPUDevice.prototype, 'createComputePipelineAsync');
}
