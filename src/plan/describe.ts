// Turns a chosen layout into the Plan object: bytes per device and in total, the speed
// prediction, and the reasons in plain language; also the plan for a model that cannot run, and
// the smaller quantization to suggest when streaming makes a run slow.
import { ENGINE_TYPES, typeName, type ModelHeader } from '../engine/gguf/types.ts';
import {
  accountModel,
  buffersFor,
  kvBytesPerToken,
  mib,
  placementBytes,
  type ModelAccount,
} from './accounting.ts';
import { fullLayout, placementOf, type Layout, type PlanContext } from './layout.ts';
import { retype, type FileType } from './quant-mix.ts';
import { predictSpeed, type DeviceRun } from './speed.ts';
import type { DevicePlan, GpuBytes, Plan } from './types.ts';

const DEFAULT_DECODE_POSITION = 256;
/** Streaming is called slow when it costs more than half the speed of full residency. */
const SLOW_FRACTION = 0.5;
const SMALLER_FILE_TYPES: FileType[] = ['Q8_0', 'Q6_K', 'Q5_K_M', 'Q4_K_M', 'Q4_0'];

function sumBytes(list: GpuBytes[]): GpuBytes {
  const total: GpuBytes = { weights: 0, kv: 0, scratch: 0, slots: 0, total: 0 };
  for (const b of list) {
    total.weights += b.weights;
    total.kv += b.kv;
    total.scratch += b.scratch;
    total.slots += b.slots;
    total.total += b.total;
  }
  return total;
}

/** The type holding most of the matrix bytes, e.g. "mostly Q4_K, with Q6_K". */
function storedTypes(header: ModelHeader): string {
  const bytes = new Map<string, number>();
  for (const t of header.tensors) {
    if (t.dims.length < 2) continue;
    bytes.set(typeName(t.type), (bytes.get(typeName(t.type)) ?? 0) + t.bytes);
  }
  const ranked = [...bytes.entries()].sort((a, b) => b[1] - a[1]).map(([name]) => name);
  return ranked.length > 1 ? `mostly ${ranked[0]}, with ${ranked.slice(1).join(', ')}` : ranked[0];
}

function weightsReason(ctx: PlanContext, account: ModelAccount): string {
  const gpu = totalWeightBytes(account);
  if (account.weights === 'file') {
    return `Weights as stored in the file (${storedTypes(account.header)}): ${mib(gpu)} in all.`;
  }
  const asStored = totalWeightBytes(accountModel(account.header, 'file', ctx.maxBindingBytes));
  return `Weights quantized to INT8 (Q8_0) on load: ${mib(gpu)} instead of ${mib(asStored)} as stored.`;
}

export function totalWeightBytes(account: ModelAccount): number {
  return account.layerBytes.reduce((a, b) => a + b, 0) + account.embeddingBytes + account.headBytes;
}

function devicePlans(ctx: PlanContext, layout: Layout): { plans: DevicePlan[]; runs: DeviceRun[] } {
  const buffers = buffersFor(
    layout.account,
    layout.contextTokens,
    ctx.compute,
    ctx.wishes.prefillChunk,
  );
  const plans: DevicePlan[] = [];
  const runs: DeviceRun[] = [];
  layout.ranges.forEach((range, i) => {
    const placement = placementOf(layout.ranges, i, layout.resident[i]);
    const bytes = placementBytes(layout.account, buffers, placement, ctx.devices[i]);
    const length = range[1] - range[0] + 1;
    const device = ctx.devices[i];
    plans.push({
      name: device.name,
      adapter: device.adapter ?? null,
      limits: { ...device.limits },
      features: [...device.features],
      layers: [range[0], range[1]],
      resident: layout.resident[i],
      streamed: length - layout.resident[i],
      holdsEmbedding: placement.holdsEmbedding,
      holdsOutput: placement.holdsOutput,
      bytes: bytes.gpu,
      hostWeights: bytes.hostWeights,
      budget: ctx.budgets[i],
    });
    runs.push({ device: ctx.devices[i], placement, hostWeights: bytes.hostWeights });
  });
  return { plans, runs };
}

function decodePosition(ctx: PlanContext, contextTokens: number): number {
  return Math.min(ctx.wishes.decodePosition ?? DEFAULT_DECODE_POSITION, contextTokens);
}

export function describePlan(ctx: PlanContext, layout: Layout): Plan {
  const { plans, runs } = devicePlans(ctx, layout);
  const layers = ctx.header.hparams.blockCount;
  const resident = plans.reduce((a, p) => a + p.resident, 0);
  const predicted = predictSpeed(layout.account, runs, decodePosition(ctx, layout.contextTokens));
  const reasons = [...ctx.reasons, weightsReason(ctx, layout.account)];
  if (resident === layers) {
    reasons.push(
      `All ${layers} layers stay on the GPU with a context of ${layout.contextTokens} tokens.`,
    );
  } else {
    reasons.push(
      `${resident} of ${layers} layers stay on the GPU (the output layer first, then the last blocks); the other ${layers - resident} are streamed from host memory, ${mib(predicted.streamedBytesPerToken)} per token.`,
    );
  }
  if (plans.length === 2) {
    reasons.push(
      `Layers ${plans[0].layers.join('-')} run on ${plans[0].name} and ${plans[1].layers.join('-')} on ${plans[1].name}${ctx.wishes.pinnedLayers ? ', as pinned' : ', in proportion to their budgets'}.`,
    );
  }
  const rates = ctx.devices
    .map(
      (d) =>
        `${d.name}: compute ${bytesPerSecond(d.computeRate.value)} (${d.computeRate.source}), upload ${bytesPerSecond(d.uploadBandwidth.value)} (${d.uploadBandwidth.source})`,
    )
    .join('; ');
  reasons.push(
    `Predicted decode speed about ${twoDigits(predicted.decodeTokensPerSecond)} tokens/s, bound by ${predicted.bound === 'upload' ? 'uploading streamed layers' : 'reading weights on the GPU'} (${rates}).`,
  );
  return {
    fits: resident === layers ? 'full' : 'partial',
    precision: { compute: ctx.compute, weights: layout.account.weights },
    kvType: 'f16',
    contextTokens: layout.contextTokens,
    layers: { total: layers, resident, streamed: layers - resident, devices: plans },
    bytes: {
      gpu: sumBytes(plans.map((p) => p.bytes)),
      host: { weights: plans.reduce((a, p) => a + p.hostWeights, 0) },
    },
    kvBytesPerToken: kvBytesPerToken(ctx.header),
    predicted,
    smallerQuantization: null,
    reasons,
  };
}

export function noPlan(ctx: PlanContext, account: ModelAccount, problems: string[]): Plan {
  const layout: Layout = {
    account,
    contextTokens: ctx.contextFloor,
    ranges: ctx.splits[0],
    resident: ctx.splits[0].map(() => 0),
  };
  const { plans } = devicePlans(ctx, layout);
  const reasons = [...ctx.reasons, ...problems];
  if (!problems.length) {
    plans.forEach((p) => {
      if (p.bytes.total > p.budget.usableBytes) {
        reasons.push(
          `Will not run: even with every layer streamed and a context of ${ctx.contextFloor} tokens, ${p.name} needs ${mib(p.bytes.total)} (weights ${mib(p.bytes.weights)}, KV ${mib(p.bytes.kv)}, scratch ${mib(p.bytes.scratch)}, slots ${mib(p.bytes.slots)}) but only ${mib(p.budget.usableBytes)} is usable.`,
        );
      }
    });
    if (reasons.length === ctx.reasons.length) {
      reasons.push('Will not run: no weight precision passes the device limits above.');
    }
  }
  const layers = ctx.header.hparams.blockCount;
  return {
    fits: 'none',
    precision: { compute: ctx.compute, weights: account.weights },
    kvType: 'f16',
    contextTokens: ctx.contextFloor,
    layers: { total: layers, resident: 0, streamed: 0, devices: plans },
    bytes: {
      gpu: sumBytes(plans.map((p) => p.bytes)),
      host: { weights: plans.reduce((a, p) => a + p.hostWeights, 0) },
    },
    kvBytesPerToken: kvBytesPerToken(ctx.header),
    predicted: {
      decodeTokensPerSecond: 0,
      bound: 'compute',
      computeSeconds: 0,
      uploadSeconds: 0,
      overheadSeconds: 0,
      weightBytesPerToken: 0,
      streamedBytesPerToken: 0,
    },
    smallerQuantization: null,
    reasons,
  };
}

/** When streaming is slow, says so and names the best smaller quantization that fits entirely. */
export function suggestSmaller(ctx: PlanContext, plan: Plan, layout: Layout): void {
  const { runs } = devicePlans(ctx, {
    ...layout,
    resident: layout.ranges.map(([a, b]) => b - a + 1),
  });
  const full = predictSpeed(
    layout.account,
    runs.map((r) => ({ ...r, hostWeights: 0 })),
    decodePosition(ctx, layout.contextTokens),
  );
  const slow =
    plan.predicted.bound === 'upload' ||
    plan.predicted.decodeTokensPerSecond < SLOW_FRACTION * full.decodeTokensPerSecond;
  if (!slow) return;
  plan.reasons.push(
    `Streaming makes this slow: about ${plan.predicted.decodeTokensPerSecond.toFixed(1)} tokens/s against about ${full.decodeTokensPerSecond.toFixed(1)} if every layer fit.`,
  );
  announceSmaller(ctx, plan, layout.account);
}

/** The best quantization smaller than `account` that would run fully resident at the floor context. */
function smallerThatFits(ctx: PlanContext, account: ModelAccount): Plan['smallerQuantization'] {
  const current = totalWeightBytes(account);
  const h = ctx.header.hparams;
  for (const fileType of SMALLER_FILE_TYPES) {
    const tensors = retype(ctx.header.tensors, fileType, h.blockCount, h.tiedEmbeddings);
    if (tensors.some((t) => !ENGINE_TYPES.has(t.type))) continue;
    const smaller = accountModel({ ...ctx.header, tensors }, 'file', ctx.maxBindingBytes);
    const bytes = totalWeightBytes(smaller);
    if (bytes < current && fullLayout(ctx, smaller, ctx.contextFloor)) {
      return { name: fileType, weightBytes: bytes };
    }
  }
  return null;
}

/** Names the smaller quantization in the plan and its reasons, or says there is none. */
export function announceSmaller(ctx: PlanContext, plan: Plan, account: ModelAccount): void {
  const found = smallerThatFits(ctx, account);
  plan.smallerQuantization = found;
  plan.reasons.push(
    found
      ? `A ${found.name} file of this model (about ${mib(found.weightBytes)} of weights) would fit entirely on the GPU with a context of ${ctx.contextFloor} tokens.`
      : 'No smaller quantization the engine runs (down to Q4_0) would fit entirely; a smaller model would.',
  );
}

/** Two significant digits for small figures, so a slow device never reads as 0.0. */
function twoDigits(value: number): string {
  return value >= 1 || value === 0 ? value.toFixed(1) : String(Number(value.toPrecision(2)));
}

function bytesPerSecond(value: number): string {
  return value >= 1e9 ? `${twoDigits(value / 1e9)} GB/s` : `${twoDigits(value / 1e6)} MB/s`;
}
