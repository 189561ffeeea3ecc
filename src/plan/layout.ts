// Layouts: which layers each device runs and how many of them stay resident, and the searches
// that find the best layout for a weight precision and a context length.
import type { ModelHeader } from '../engine/gguf/types.ts';
import { buffersFor, placementBytes, type ModelAccount, type Placement } from './accounting.ts';
import type { LayerRange } from './split.ts';
import type { BudgetReport, ComputePrecision, DeviceDescription, PlanWishes } from './types.ts';

const CONTEXT_STEP = 256;

export interface PlanContext {
  header: ModelHeader;
  devices: DeviceDescription[];
  budgets: BudgetReport[];
  compute: ComputePrecision;
  wishes: PlanWishes;
  splits: LayerRange[][];
  requestedContext: number;
  contextFloor: number;
  reasons: string[];
  /** The smallest binding limit among the devices: the engine packs every group for it. */
  maxBindingBytes: number;
}

export interface Layout {
  account: ModelAccount;
  contextTokens: number;
  ranges: LayerRange[];
  /** Per device: how many of the last layers of its range stay resident. */
  resident: number[];
}

/** Whether every device holds its part of the layout within its usable budget and limits. */
export function layoutFits(
  ctx: PlanContext,
  account: ModelAccount,
  contextTokens: number,
  ranges: LayerRange[],
  resident: number[],
): boolean {
  const buffers = buffersFor(account, contextTokens, ctx.compute, ctx.wishes.prefillChunk);
  return ranges.every((range, i) => {
    const bytes = placementBytes(
      account,
      buffers,
      placementOf(ranges, i, resident[i]),
      ctx.devices[i],
    );
    return !bytes.oversizedBuffer && bytes.gpu.total <= ctx.budgets[i].usableBytes;
  });
}

export function placementOf(ranges: LayerRange[], i: number, resident: number): Placement {
  return {
    first: ranges[i][0],
    last: ranges[i][1],
    resident,
    holdsEmbedding: i === 0,
    holdsOutput: i === ranges.length - 1,
  };
}

export function fullLayout(
  ctx: PlanContext,
  account: ModelAccount,
  contextTokens: number,
): Layout | null {
  for (const ranges of ctx.splits) {
    const resident = ranges.map(([a, b]) => b - a + 1);
    if (layoutFits(ctx, account, contextTokens, ranges, resident)) {
      return { account, contextTokens, ranges, resident };
    }
  }
  return null;
}

export function longestFullContext(ctx: PlanContext, account: ModelAccount): Layout | null {
  const contextAt = (k: number) => ctx.contextFloor + k * CONTEXT_STEP;
  let lo = 0;
  let hi = Math.floor((ctx.requestedContext - 1 - ctx.contextFloor) / CONTEXT_STEP);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fullLayout(ctx, account, contextAt(mid))) lo = mid;
    else hi = mid - 1;
  }
  return fullLayout(ctx, account, contextAt(lo));
}

/** The split that keeps the most layers resident, each device filling its own budget. */
export function mostResident(
  ctx: PlanContext,
  account: ModelAccount,
  contextTokens: number,
): Layout | null {
  const buffers = buffersFor(account, contextTokens, ctx.compute, ctx.wishes.prefillChunk);
  const fitsOne = (ranges: LayerRange[], i: number, n: number) => {
    const bytes = placementBytes(account, buffers, placementOf(ranges, i, n), ctx.devices[i]);
    return !bytes.oversizedBuffer && bytes.gpu.total <= ctx.budgets[i].usableBytes;
  };
  let best: Layout | null = null;
  let bestTotal = -1;
  for (const ranges of ctx.splits) {
    const resident = ranges.map(([first, last], i) => {
      for (let n = last - first + 1; n >= 0; n--) if (fitsOne(ranges, i, n)) return n;
      return -1;
    });
    if (resident.some((n) => n < 0)) continue;
    const total = resident.reduce((a, b) => a + b, 0);
    if (total > bestTotal) {
      best = { account, contextTokens, ranges, resident };
      bestTotal = total;
    }
  }
  return best;
}
