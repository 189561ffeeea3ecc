// The planner: from a GGUF header, one or two device descriptions and the person's wishes to a
// plan. Decision order (after llama.cpp's --fit and Ollama): gates (features, binding and buffer
// sizes); full residency from the best weight precision down; a shorter context down to a floor;
// only then partial residency, the output layer first and then the last blocks, the rest streamed.
import type { ModelHeader } from '../engine/gguf/types.ts';
import {
  accountModel,
  gateProblems,
  kvBytesPerToken,
  mib,
  type ModelAccount,
} from './accounting.ts';
import { budgetReport, DEFAULT_MARGIN } from './budget.ts';
import { announceSmaller, describePlan, noPlan, suggestSmaller } from './describe.ts';
import { typeOnLoad } from './engine-sizes.ts';
import {
  fullLayout,
  layoutFits,
  longestFullContext,
  mostResident,
  type Layout,
  type PlanContext,
} from './layout.ts';
import { candidateSplits, type LayerRange } from './split.ts';
import type {
  BudgetReport,
  ComputePrecision,
  DeviceDescription,
  Plan,
  PlanWishes,
  WeightPrecision,
} from './types.ts';

/**
 * The context a load plans for when none is asked beyond the model's own maximum, and the shortest
 * the planner shrinks a context to before it streams layers instead.
 */
export const DEFAULT_CONTEXT_TOKENS = 4096;

function positiveInteger(value: number | undefined, what: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new RangeError(`${what} must be a positive whole number, got ${value}.`);
  }
}

/**
 * The compute precision: as asked, else f16 where every device has shader-f16 and is a real GPU.
 * CPU-backed (software) adapters run f32 faster than f16 (no f16 arithmetic units: every f16
 * value is converted), so `auto` picks f32 on them.
 */
export function chooseCompute(
  devices: DeviceDescription[],
  wish: PlanWishes['compute'],
): {
  compute: ComputePrecision;
  problem: string | null;
  reason: string;
} {
  const lacking = devices.filter((d) => !d.features.includes('shader-f16'));
  if (wish === 'f16' && lacking.length) {
    return {
      compute: 'f16',
      problem: `f16 compute was asked for, but ${lacking.map((d) => d.name).join(' and ')} lacks shader-f16; choose f32 or automatic compute precision.`,
      reason: '',
    };
  }
  if (wish === 'f32') return { compute: 'f32', problem: null, reason: 'f32 compute, as asked.' };
  if (wish === 'f16') return { compute: 'f16', problem: null, reason: 'f16 compute, as asked.' };
  if (lacking.length) {
    return {
      compute: 'f32',
      problem: null,
      reason: `f32 compute: ${lacking.map((d) => d.name).join(' and ')} lacks shader-f16.`,
    };
  }
  const software = devices.filter((d) => d.adapterClass === 'software');
  if (software.length) {
    return {
      compute: 'f32',
      problem: null,
      reason: `f32 compute: ${software.map((d) => d.name).join(' and ')} is CPU-backed, where f32 runs faster than f16.`,
    };
  }
  return { compute: 'f16', problem: null, reason: 'f16 compute: the adapter supports shader-f16.' };
}

function weightCandidates(header: ModelHeader, wishes: PlanWishes): WeightPrecision[] {
  if (wishes.weights === 'file') return ['file'];
  if (wishes.weights === 'q8_0') return ['q8_0'];
  const quantizable = header.tensors.some((t) => typeOnLoad(t, 'q8_0') !== t.type);
  return quantizable && wishes.qualityFloor !== 'as-stored' ? ['file', 'q8_0'] : ['file'];
}

function budgetReason(device: DeviceDescription, report: BudgetReport): string {
  const b = report.budget;
  return `Memory budget on ${device.name}: ${mib(b.value)} (${b.source}: ${b.detail}); ${mib(report.marginBytes)} kept free as a margin, ${mib(report.usableBytes)} usable.`;
}

export function planModel(
  header: ModelHeader,
  devices: DeviceDescription[],
  wishes: PlanWishes = {},
): Plan {
  if (devices.length < 1 || devices.length > 2) {
    throw new RangeError(`The planner splits across one or two devices, not ${devices.length}.`);
  }
  positiveInteger(wishes.contextTokens, 'The context length');
  positiveInteger(wishes.contextFloor, 'The context floor');
  const h = header.hparams;
  const budgets = devices.map((d) => budgetReport(d.memoryBudget, wishes.margin ?? DEFAULT_MARGIN));
  const reasons = devices.map((d, i) => budgetReason(d, budgets[i]));
  const requestedContext = Math.min(wishes.contextTokens ?? h.contextLength, h.contextLength);
  if ((wishes.contextTokens ?? 0) > h.contextLength) {
    reasons.push(
      `Context capped at the model's maximum of ${h.contextLength} tokens (${wishes.contextTokens} asked).`,
    );
  }
  const compute = chooseCompute(devices, wishes.compute);
  const ctx: PlanContext = {
    header,
    devices,
    budgets,
    compute: compute.compute,
    wishes,
    splits: candidateSplits(
      h.blockCount,
      devices,
      budgets.map((b) => b.usableBytes),
      wishes.pinnedLayers,
    ),
    requestedContext,
    contextFloor: Math.min(wishes.contextFloor ?? DEFAULT_CONTEXT_TOKENS, requestedContext),
    reasons,
    maxBindingBytes:
      Math.floor(Math.min(...devices.map((d) => d.limits.maxStorageBufferBindingSize)) / 4) * 4,
  };
  if (compute.problem)
    return noPlan(ctx, accountModel(header, 'file', ctx.maxBindingBytes), [compute.problem]);
  reasons.push(compute.reason);

  const accounts: ModelAccount[] = [];
  for (const weights of weightCandidates(header, wishes)) {
    const account = accountModel(header, weights, ctx.maxBindingBytes);
    const problems = devices.flatMap((d) => gateProblems(account, d));
    if (problems.length) {
      reasons.push(
        `${weights === 'file' ? 'Weights as stored' : 'INT8 (Q8_0) weights'} cannot run here: ${problems.join(' ')}`,
      );
    } else accounts.push(account);
  }
  if (!accounts.length) return noPlan(ctx, accountModel(header, 'file', ctx.maxBindingBytes), []);

  let layout: Layout | null = null;
  for (const account of accounts) {
    layout = fullLayout(ctx, account, requestedContext);
    if (layout) break;
    reasons.push(
      `${account.weights === 'file' ? 'Weights as stored' : 'INT8 (Q8_0) weights'} do not fit fully resident with a context of ${requestedContext} tokens.`,
    );
  }
  const smallest = accounts[accounts.length - 1];
  if (!layout) {
    layout = longestFullContext(ctx, smallest);
    if (layout) {
      reasons.push(
        `Context shortened from ${requestedContext} to ${layout.contextTokens} tokens so that every layer stays on the GPU (the KV cache takes ${kvBytesPerToken(header)} bytes per token).`,
      );
    }
  }
  if (!layout) {
    layout = mostResident(ctx, smallest, ctx.contextFloor);
    if (layout) {
      reasons.push(
        `Context at its floor of ${ctx.contextFloor} tokens and still not every layer fits: streaming the rest from host memory.`,
      );
    }
  }
  if (wishes.residentLayers !== undefined) {
    layout = forcedLayout(
      ctx,
      layout ?? {
        account: smallest,
        contextTokens: ctx.contextFloor,
        ranges: ctx.splits[0],
        resident: [],
      },
      wishes.residentLayers,
    );
  }
  if (!layout) {
    const none = noPlan(ctx, smallest, []);
    announceSmaller(ctx, none, smallest);
    return none;
  }
  const plan = describePlan(ctx, layout);
  if (plan.fits === 'partial') suggestSmaller(ctx, plan, layout);
  return plan;
}

function forcedLayout(ctx: PlanContext, base: Layout, resident: number): Layout {
  const layers = ctx.header.hparams.blockCount;
  if (ctx.devices.length !== 1) {
    throw new RangeError(
      'A forced resident layer count applies to one device; pin layer ranges for two.',
    );
  }
  if (!Number.isInteger(resident) || resident < 0 || resident > layers) {
    throw new RangeError(
      `Resident layers must be a whole number from 0 to ${layers}, got ${resident}.`,
    );
  }
  const ranges: LayerRange[] = [[0, layers - 1]];
  const fits = layoutFits(ctx, base.account, base.contextTokens, ranges, [resident]);
  ctx.reasons.push(
    `${resident} of ${layers} layers resident, as asked${fits ? '' : ': this is over the memory budget, so loading may fail'}.`,
  );
  return { ...base, ranges, resident: [resident] };
}
