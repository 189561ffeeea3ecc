// The machine's memory read bandwidth, measured in Node at native speed: `Buffer.compare` of two
// equal buffers much larger than the caches is one memcmp, which streams both through the CPU.
// With N threads, N workers compare their own buffers at once and the figure is all the bytes read
// over the slowest worker's time; the best of a few rounds counts (others' work on the machine
// only ever slows a round down).
import { Worker } from 'node:worker_threads';

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const a = Buffer.alloc(workerData.bytes, 7);
const b = Buffer.alloc(workerData.bytes, 7);
parentPort.on('message', (passes) => {
  const start = performance.now();
  let differ = 0;
  for (let i = 0; i < passes; i++) differ |= Buffer.compare(a, b);
  parentPort.postMessage({ ms: performance.now() - start, differ });
});
parentPort.postMessage('ready');
`;

export interface BandwidthOptions {
  /** Bytes per buffer; each worker holds two. */
  bufferBytes?: number;
  passes?: number;
  rounds?: number;
}

/** Read bandwidth in GB/s (1e9 bytes per second) with `threads` threads reading at once. */
export async function measureReadBandwidth(
  threads: number,
  options: BandwidthOptions = {},
): Promise<number> {
  const bytes = options.bufferBytes ?? 128 * 2 ** 20;
  const passes = options.passes ?? 4;
  const rounds = options.rounds ?? 3;
  const workers = Array.from(
    { length: threads },
    () => new Worker(WORKER, { eval: true, workerData: { bytes } }),
  );
  try {
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
    let best = 0;
    for (let round = 0; round < rounds; round++) {
      const times = await Promise.all(
        workers.map(
          (w) =>
            new Promise<number>((resolve, reject) => {
              w.once('message', (m: { ms: number; differ: number }) =>
                m.differ ? reject(new Error('equal buffers compared unequal')) : resolve(m.ms),
              );
              w.postMessage(passes);
            }),
        ),
      );
      const gbps = (threads * 2 * bytes * passes) / (Math.max(...times) / 1000) / 1e9;
      best = Math.max(best, gbps);
    }
    return best;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
