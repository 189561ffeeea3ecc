// The CPU calibration, in workers so that the page's thread never stops for it: one thread's read
// rate (measureReadRate), then how many bytes per second a thread per core reads together when
// they meet at a barrier after every small step, as llama.cpp's threads do many times per token.
// On idle cores that is about `threads` times one thread's rate; on cores shared with other work
// the threads keep waiting for one another and it can fall below one thread's rate.
import type { Figure } from '../plan/types';
import type { CalibrationJob, CalibrationResult, ThreadsResult } from './cpu-threads-barrier';

const CALIBRATION_BYTES = 64 * 2 ** 20;
/** 64 KiB per thread per step: about what each thread reads per operation of a small model. */
const STEP_WORDS = 16 * 1024;
const BUDGET_MS = 200;
/** A worker that never starts would keep the others at the first barrier: give up after this. */
const GIVE_UP_MS = 10_000;

function startWorker(): Worker {
  return new Worker(new URL('./cpu-threads-worker.ts', import.meta.url), {
    type: 'module',
    name: 'cpu-calibration',
  });
}

/** Runs one job per worker; null when a worker fails or they do not all answer in time. */
async function run<T extends CalibrationResult>(jobs: CalibrationJob[]): Promise<T[] | null> {
  const workers = jobs.map(startWorker);
  try {
    const answered = Promise.all(
      workers.map(
        (worker, i) =>
          new Promise<T>((resolve, reject) => {
            worker.onmessage = (event: MessageEvent<T>) => resolve(event.data);
            worker.onerror = (event) => reject(new Error(event.message));
            worker.postMessage(jobs[i]);
          }),
      ),
    );
    const late = new Promise<null>((resolve) => setTimeout(() => resolve(null), GIVE_UP_MS));
    return await Promise.race([answered, late]).catch(() => null);
  } finally {
    for (const worker of workers) worker.terminate();
  }
}

/** One thread's read rate, measured in a worker; null if the worker could not run. */
export async function measureReadRateInWorker(): Promise<Figure | null> {
  return (await run<Figure>([{ kind: 'single' }]))?.[0] ?? null;
}

/**
 * A thread per core reading together. Needs SharedArrayBuffer, so a cross-origin isolated page;
 * null where threads are not possible or the workers did not answer in time.
 */
export async function measureThreadedReadRate(threads: number): Promise<Figure | null> {
  if (threads < 2 || !globalThis.crossOriginIsolated) return null;
  const data = new SharedArrayBuffer(CALIBRATION_BYTES);
  const words = new Int32Array(data);
  for (let i = 0; i < words.length; i += 1024) words[i] = i;
  const sync = new SharedArrayBuffer(3 * 4);
  const jobs = Array.from({ length: threads }, (_, index) => ({
    kind: 'together' as const,
    data,
    sync,
    index,
    threads,
    stepWords: STEP_WORDS,
    budgetMs: BUDGET_MS,
  }));
  const results = await run<ThreadsResult>(jobs);
  if (!results) return null;
  const ms = Math.max(...results.map((r) => r.ms), 0.01);
  const bytes = results[0].steps * threads * STEP_WORDS * 4;
  return {
    value: bytes / (ms / 1000),
    source: 'calibration',
    detail: `${threads} workers reading together, meeting after every ${(STEP_WORDS * 4) / 1024} KiB each, for ${BUDGET_MS} ms`,
  };
}
