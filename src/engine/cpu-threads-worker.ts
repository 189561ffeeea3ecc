// One thread of the threaded read calibration (cpu-threads.ts): reads its share of a shared array
// one step at a time and meets the other threads at a spinning barrier after each step, as
// llama.cpp's threads meet after each operation of a token's graph.
import { barrier, type ThreadsJob, type ThreadsResult } from './cpu-threads-barrier';

self.onmessage = (event: MessageEvent<ThreadsJob>) => {
  const { data, sync, index, threads, stepWords, budgetMs } = event.data;
  const words = new Int32Array(data);
  const state = new Int32Array(sync);
  const stride = stepWords * threads;
  const stepsPerPass = Math.floor(words.length / stride);
  barrier(state, threads);
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
  const result: ThreadsResult = { steps, ms: performance.now() - start, checksum: sum & 1 };
  postMessage(result);
};
