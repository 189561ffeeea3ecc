// The threaded read calibration: how many bytes per second `threads` workers read together when
// they meet at a barrier after every small step, as llama.cpp's threads do many times per token.
// On idle cores that is about `threads` times one thread's rate; on cores shared with other work
// the threads keep waiting for one another and it can fall below one thread's rate.
import type { Figure } from '../plan/types';
import type { ThreadsJob, ThreadsResult } from './cpu-threads-barrier';

const CALIBRATION_BYTES = 64 * 2 ** 20;
/** 64 KiB per thread per step: about what each thread reads per operation of a small model. */
const STEP_WORDS = 16 * 1024;
const BUDGET_MS = 200;
/** A worker that never starts would keep the others at the first barrier: give up after this. */
const GIVE_UP_MS = 10_000;

/**
 * Needs SharedArrayBuffer, so a cross-origin isolated page; null where threads are not possible
 * or the workers did not answer in time.
 */
export async function measureThreadedReadRate(threads: number): Promise<Figure | null> {
  if (threads < 2 || !globalThis.crossOriginIsolated) return null;
  const data = new SharedArrayBuffer(CALIBRATION_BYTES);
  const words = new Int32Array(data);
  for (let i = 0; i < words.length; i += 1024) words[i] = i;
  const sync = new SharedArrayBuffer(3 * 4);
  const workers = Array.from(
    { length: threads },
    () =>
      new Worker(new URL('./cpu-threads-worker.ts', import.meta.url), {
        type: 'module',
        name: 'cpu-calibration',
      }),
  );
  try {
    const answered = Promise.all(
      workers.map(
        (worker, index) =>
          new Promise<ThreadsResult>((resolve, reject) => {
            worker.onmessage = (event: MessageEvent<ThreadsResult>) => resolve(event.data);
            worker.onerror = (event) => reject(new Error(event.message));
            const job: ThreadsJob = {
              data,
              sync,
              index,
              threads,
              stepWords: STEP_WORDS,
              budgetMs: BUDGET_MS,
            };
            worker.postMessage(job);
          }),
      ),
    );
    const late = new Promise<null>((resolve) => setTimeout(() => resolve(null), GIVE_UP_MS));
    const results = await Promise.race([answered, late]);
    if (!results) return null;
    const ms = Math.max(...results.map((r) => r.ms), 0.01);
    const bytes = results[0].steps * threads * STEP_WORDS * 4;
    return {
      value: bytes / (ms / 1000),
      source: 'calibration',
      detail: `${threads} workers reading together, meeting after every ${(STEP_WORDS * 4) / 1024} KiB each, for ${BUDGET_MS} ms`,
    };
  } finally {
    for (const worker of workers) worker.terminate();
  }
}
