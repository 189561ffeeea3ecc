// The GPU memory budget. WebGPU reports no VRAM figure, so the budget comes, in order of trust,
// from the person (an override), from the calibration probe (bytes it really allocated and
// wrote), or from an estimate by adapter class and `navigator.deviceMemory`.
//
// Estimate heuristics (documented in devices/README.md):
// - discrete: 4 GiB. A dedicated card has its own memory, invisible to the page; 4 GiB is what
//   nearly every discrete GPU sold in the last years has at least. Calibration can show more.
// - integrated (unified memory): half of `navigator.deviceMemory` (the GPU shares system memory
//   with the OS and the browser); 2 GiB when the browser hides it. Chromium caps deviceMemory at
//   8 GiB, so this estimate never exceeds 4 GiB: calibrate for more.
// - software: half of deviceMemory like unified memory (it is the CPU's RAM); 2 GiB when hidden.
// - unknown: a quarter of deviceMemory, at most 2 GiB; 1 GiB when hidden.
import type { AdapterClass, BudgetReport, Figure, MarginWish } from './types.ts';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

export const DEFAULT_MARGIN: MarginWish = { fraction: 0.1, minBytes: 512 * MiB };
export const NO_MARGIN: MarginWish = { fraction: 0, minBytes: 0 };

export interface BudgetInputs {
  adapterClass: AdapterClass;
  /** `navigator.deviceMemory` in GiB (rounded and capped by the browser), when exposed. */
  deviceMemoryGiB?: number;
  /** Bytes the calibration probe allocated and wrote. */
  calibratedBytes?: number;
  /** The person's own figure, which wins over everything. */
  userBytes?: number;
}

export function estimateBudget(inputs: BudgetInputs): Figure {
  if (inputs.userBytes !== undefined) {
    return { value: inputs.userBytes, source: 'user', detail: 'set by you' };
  }
  if (inputs.calibratedBytes !== undefined) {
    return {
      value: inputs.calibratedBytes,
      source: 'calibration',
      detail: 'allocated and written by the calibration probe',
    };
  }
  const mem = inputs.deviceMemoryGiB;
  const known = typeof mem === 'number' && mem > 0;
  switch (inputs.adapterClass) {
    case 'discrete':
      return {
        value: 4 * GiB,
        source: 'estimate',
        detail: 'discrete GPU: assumed 4 GiB (the page cannot see its memory; calibrate for more)',
      };
    case 'integrated':
    case 'software': {
      const what = inputs.adapterClass === 'software' ? 'software adapter' : 'unified memory';
      return known
        ? {
            value: (mem * GiB) / 2,
            source: 'estimate',
            detail: `${what}: half of navigator.deviceMemory (${mem} GiB)`,
          }
        : {
            value: 2 * GiB,
            source: 'estimate',
            detail: `${what}: 2 GiB (navigator.deviceMemory not exposed)`,
          };
    }
    default:
      return known
        ? {
            value: Math.min(2 * GiB, (mem * GiB) / 4),
            source: 'estimate',
            detail: `unknown adapter: a quarter of navigator.deviceMemory (${mem} GiB), at most 2 GiB`,
          }
        : {
            value: GiB,
            source: 'estimate',
            detail: 'unknown adapter: 1 GiB (navigator.deviceMemory not exposed)',
          };
  }
}

export function marginBytes(budget: number, margin: MarginWish = DEFAULT_MARGIN): number {
  return Math.max(Math.round(budget * margin.fraction), margin.minBytes);
}

export function budgetReport(budget: Figure, margin: MarginWish = DEFAULT_MARGIN): BudgetReport {
  const kept = marginBytes(budget.value, margin);
  return { budget, marginBytes: kept, usableBytes: Math.max(0, budget.value - kept) };
}
