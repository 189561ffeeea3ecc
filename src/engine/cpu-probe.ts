// The CPU as the CPU engine would use it: cores, cross-origin isolation (threads need it),
// memory, and a short calibration of how fast one thread reads a large array. Runs in the
// browser (page or worker) and in Node; the planner gets the result (src/plan/cpu.ts).
import { WASM64_ADDRESS_SPACE, type CpuDescription } from '../plan/cpu';
import type { Figure } from '../plan/types';

const CALIBRATION_BYTES = 64 * 2 ** 20;
const GiB = 2 ** 30;

/**
 * Bytes per second one thread reads, summing a 64 MiB array (larger than caches) 32 bits at a
 * time, as a quantized dot product reads its weights: the median of a few passes, not the best,
 * so that a machine whose cores are shared with other work reads slower here, as llama.cpp will.
 */
export function measureReadRate(passes = 5): Figure {
  const words = new Int32Array(CALIBRATION_BYTES / 4);
  for (let i = 0; i < words.length; i += 1024) words[i] = i;
  const times: number[] = [];
  let sink = 0;
  for (let pass = 0; pass < passes; pass++) {
    const start = performance.now();
    let sum = 0;
    for (let i = 0; i < words.length; i++) sum = (sum + words[i]) | 0;
    times.push(performance.now() - start);
    sink ^= sum;
  }
  times.sort((a, b) => a - b);
  const seconds = Math.max(times[Math.floor(passes / 2)], 0.01) / 1000;
  return {
    value: CALIBRATION_BYTES / seconds,
    source: 'calibration',
    detail: `median of ${passes} passes over ${CALIBRATION_BYTES / 2 ** 20} MiB (checksum ${sink & 1})`,
  };
}

export interface CpuFacts {
  logicalCores: number;
  isolated: boolean;
  /** navigator.deviceMemory in GiB (browsers cap it at 8), or the host's memory in Node. */
  memoryGiB: number | undefined;
}

/** The facts the browser gives without measuring. */
export function browserCpuFacts(): CpuFacts {
  const nav = globalThis.navigator as (Navigator & { deviceMemory?: number }) | undefined;
  return {
    logicalCores: nav?.hardwareConcurrency ?? 1,
    isolated: globalThis.crossOriginIsolated === true,
    memoryGiB: nav?.deviceMemory,
  };
}

export function describeCpu(
  facts: CpuFacts,
  readRate: Figure,
  threadedReadRate: Figure | null = null,
): CpuDescription {
  const memory: Figure =
    facts.memoryGiB === undefined
      ? { value: 4 * GiB, source: 'estimate', detail: 'not reported; 4 GiB assumed' }
      : {
          value: facts.memoryGiB * GiB,
          source: 'measured',
          detail: `navigator.deviceMemory ${facts.memoryGiB} GiB`,
        };
  return {
    name: `CPU, ${facts.logicalCores} logical core${facts.logicalCores === 1 ? '' : 's'}`,
    logicalCores: facts.logicalCores,
    isolated: facts.isolated,
    memory,
    addressSpaceBytes: WASM64_ADDRESS_SPACE,
    readRate,
    threadedReadRate,
  };
}
