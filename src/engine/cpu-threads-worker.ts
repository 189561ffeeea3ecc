// A CPU calibration worker (cpu-threads.ts): measures one thread's read rate, or reads its share
// of a shared array one step at a time with other workers, meeting them at a spinning barrier after
// each step as llama.cpp's threads meet after each operation of a token's graph.
import { measureReadRate } from './cpu-probe';
import { barrier, type CalibrationJob, type CalibrationResult } from './cpu-threads-barrier';

function together(job: Extract<CalibrationJob, { kind: 'together' }>): CalibrationResult {
  const { data, sync, index, threads, stepWords, budgetMs } = job;
  const words = new Int32Array(data);
  const state = new Int32Array(sync);
  const stride = stepWords * threads;
  const stepsPerPass = Math.floor(words.length / stride);
  barrier(state, threads, true);
  const start = performance.now();
  let steps = 0;
  let sum = 0;
  for (;;) {
    const from = (steps % stepsPerPass) * stride + index * stepWords;
    for (let i = from; i < from + stepWords; i++) sum = (sum + words[i]) | 0;
    steps++;
    // The first thread calls time for all, so every thread leaves after the same step.
    if (index === 0 && performance.now() - start > budgetMs) Atomics.store(state, 2, 1);
    barrier(state, threads);
    if (Atomics.load(state, 2) === 1) break;
  }
  return { steps, ms: performance.now() - start, checksum: sum & 1 };
}

self.onmessage = (event: MessageEvent<CalibrationJob>) => {
  const job = event.data;
  postMessage(job.kind === 'single' ? measureReadRate() : together(job));
};
