// Loading a model exactly as a plan says: weight precision (quantizing to Q8_0 on load), context,
// compute precision, and per device its layer range and resident layers, every buffer counted by
// that device's allocator. A device lost or out of memory during the load is reported with the
// plan that failed, and `loadWithSmallerBudget` re-plans with budgets 10% lower and tries again.
import type { ComputePrecision, Plan, WeightPrecision } from '../../plan/types';
import { GpuAllocator, type AllocatedBytes } from './allocator';
import type { PassModel } from './generate';
import type { PipelineCache } from './kernels/pipeline';
import { GgufModel } from './model';
import { SplitModel } from './multi-device';
import { tensorsForLoad } from './quantize-on-load';
import type { VariantTuning } from './variant-choice';
import type { ModelHeader, ModelSource } from './types';

export type PlanLoadFailure = 'no-plan' | 'out-of-memory' | 'device-lost' | 'invalid';

export class PlanLoadError extends Error {
  override name = 'PlanLoadError';
  constructor(
    readonly plan: Plan,
    readonly failure: PlanLoadFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface PlannedLoadOptions {
  prefillChunk?: number;
  maxBindingBytes?: number;
  lanesPerRow?: number;
  /** One per device: the kernel variants its part times at load (unless `lanesPerRow` forces one). */
  tuning?: VariantTuning[];
  /** One per device, to reuse compiled kernels across loads. */
  pipelines?: PipelineCache[];
  /** One per device: whether its WGSL has packed 4x8 integer dot products (default yes). */
  integerDotProduct?: boolean[];
  signal?: AbortSignal;
  onProgress?: (loaded: number, total: number) => void;
}

/** One device's part as the engine loaded it, with what its allocator counted. */
export interface CarriedOutDevice {
  /** The device as its allocator names it (the plan's device name). */
  name: string;
  layers: [number, number];
  resident: number;
  streamed: number;
  holdsEmbedding: boolean;
  holdsOutput: boolean;
  allocated: AllocatedBytes;
}

/**
 * The plan as the engine carried it out, read back from the loaded parts (not copied from the
 * plan it was given), so the page can hold it against the plan it showed.
 */
export interface CarriedOutPlan {
  precision: { compute: ComputePrecision; weights: WeightPrecision };
  contextTokens: number;
  layers: { total: number; resident: number; streamed: number; devices: CarriedOutDevice[] };
}

export interface PlannedModel {
  plan: Plan;
  /** What the loaded parts run, device by device. */
  carriedOut(): CarriedOutPlan;
  /** What generation runs: the single part, or the parts chained across devices. */
  model: PassModel;
  parts: GgufModel[];
  /** Bytes allocated per device, by category, in the plan's device order. */
  allocated(): AllocatedBytes[];
  destroy(): void;
}

function planSummary(plan: Plan): string {
  const l = plan.layers;
  return (
    `${l.resident} of ${l.total} layers resident on ${l.devices.map((d) => d.name).join(' + ')}, ` +
    `${plan.precision.weights === 'q8_0' ? 'INT8 (Q8_0)' : 'file'} weights, ` +
    `${plan.contextTokens}-token context, ${(plan.bytes.gpu.total / 2 ** 20).toFixed(1)} MiB on the GPU`
  );
}

async function loadPart(
  device: GPUDevice,
  plan: Plan,
  index: number,
  source: ModelSource,
  header: ModelHeader,
  options: PlannedLoadOptions,
): Promise<GgufModel> {
  const dp = plan.layers.devices[index];
  let lost: GPUDeviceLostInfo | null = null;
  const lostSignal = device.lost.then((info) => {
    lost = info;
    return info;
  });
  const fail = (failure: PlanLoadFailure, what: string, cause?: unknown) =>
    new PlanLoadError(
      plan,
      failure,
      `Loading the model on ${dp.name} failed: ${what}. The plan was: ${planSummary(plan)}. ` +
        (failure === 'out-of-memory' || failure === 'device-lost'
          ? 'Try again with a smaller memory budget (10% lower), fewer resident layers or a shorter context.'
          : 'Check the plan against this device.'),
      { cause },
    );
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  const allocator = new GpuAllocator(device, dp.name);
  let part: GgufModel | null = null;
  let error: unknown = null;
  try {
    part = await Promise.race([
      GgufModel.load(device, source, header, {
        contextTokens: plan.contextTokens,
        computePrecision: plan.precision.compute,
        prefillChunk: options.prefillChunk,
        maxBindingBytes: options.maxBindingBytes,
        lanesPerRow: options.lanesPerRow,
        tuning: options.tuning?.[index],
        pipelines: options.pipelines?.[index],
        integerDotProduct: options.integerDotProduct?.[index],
        placement: {
          first: dp.layers[0],
          last: dp.layers[1],
          resident: dp.resident,
          holdsEmbedding: dp.holdsEmbedding,
          holdsOutput: dp.holdsOutput,
        },
        allocator,
        signal: options.signal,
        onProgress: options.onProgress,
      }),
      lostSignal.then((info): never => {
        throw fail('device-lost', `the GPU device was lost (${info.reason}: ${info.message})`);
      }),
    ]);
    await Promise.race([device.queue.onSubmittedWorkDone(), lostSignal]);
  } catch (e) {
    error = e;
  }
  const [oom, invalid] = lost
    ? [null, null]
    : [await device.popErrorScope(), await device.popErrorScope()];
  const info = lost as GPUDeviceLostInfo | null;
  let failure: PlanLoadError | null = null;
  if (info)
    failure = fail(
      'device-lost',
      `the GPU device was lost (${info.reason}: ${info.message})`,
      error,
    );
  else if (oom) failure = fail('out-of-memory', `the GPU ran out of memory (${oom.message})`, oom);
  else if (invalid)
    failure = fail('invalid', `the GPU rejected a buffer (${invalid.message})`, invalid);
  if (failure || error) {
    part?.destroy();
    allocator.destroyAll();
    throw failure ?? error;
  }
  return part!;
}

function sameTypes(a: ModelHeader['tensors'], b: ModelHeader['tensors']): boolean {
  return a.length === b.length && a.every((t, i) => t.type === b[i].type);
}

function carriedOut(
  parts: GgufModel[],
  header: ModelHeader,
  planned: WeightPrecision,
): CarriedOutPlan {
  const other: WeightPrecision = planned === 'file' ? 'q8_0' : 'file';
  const loaded = parts[0].header.tensors;
  const devices = parts.map((part): CarriedOutDevice => {
    const p = part.placement;
    return {
      name: part.allocator.name,
      layers: [p.first, p.last],
      resident: p.resident,
      streamed: p.last - p.first + 1 - p.resident,
      holdsEmbedding: p.holdsEmbedding,
      holdsOutput: p.holdsOutput,
      allocated: part.allocator.allocated,
    };
  });
  const resident = devices.reduce((a, d) => a + d.resident, 0);
  const total = header.hparams.blockCount;
  return {
    precision: {
      compute: parts[0].options.computePrecision,
      weights: sameTypes(loaded, tensorsForLoad(header.tensors, planned)) ? planned : other,
    },
    contextTokens: Math.min(...parts.map((part) => part.options.contextTokens)),
    layers: { total, resident, streamed: total - resident, devices },
  };
}

/** Loads `source` on `devices` (one per device of the plan) as `plan` says. */
export async function loadPlanned(
  devices: GPUDevice[],
  source: ModelSource,
  header: ModelHeader,
  plan: Plan,
  options: PlannedLoadOptions = {},
): Promise<PlannedModel> {
  if (plan.fits === 'none') {
    throw new PlanLoadError(plan, 'no-plan', `There is no plan to load: ${plan.reasons.join(' ')}`);
  }
  if (devices.length !== plan.layers.devices.length) {
    throw new RangeError(
      `the plan splits the model across ${plan.layers.devices.length} device(s) but ${devices.length} were given`,
    );
  }
  const loadHeader = { ...header, tensors: tensorsForLoad(header.tensors, plan.precision.weights) };
  const parts: GgufModel[] = [];
  try {
    for (let i = 0; i < devices.length; i++) {
      parts.push(await loadPart(devices[i], plan, i, source, loadHeader, options));
    }
  } catch (error) {
    for (const part of parts) part.destroy();
    throw error;
  }
  const model: PassModel = parts.length === 1 ? parts[0] : new SplitModel(parts);
  return {
    plan,
    carriedOut: () => carriedOut(parts, header, plan.precision.weights),
    model,
    parts,
    allocated: () => parts.map((p) => p.allocator.allocated),
    destroy: () => parts.forEach((p) => p.destroy()),
  };
}

/** Per-device budgets 10% below those `plan` was made with. */
export function budgetsTenPercentLower(plan: Plan): number[] {
  return plan.layers.devices.map((d) => Math.floor(d.budget.budget.value * 0.9));
}

/**
 * Loads with `plan`; when the device runs out of memory or is lost, re-plans with budgets 10%
 * lower (`replan` receives them, one per device) and tries again, up to `attempts` loads.
 */
export async function loadWithSmallerBudget<T>(
  plan: Plan,
  load: (plan: Plan) => Promise<T>,
  replan: (budgets: number[]) => Plan,
  attempts = 3,
): Promise<T> {
  let current = plan;
  for (let attempt = 1; ; attempt++) {
    try {
      return await load(current);
    } catch (error) {
      const retry =
        error instanceof PlanLoadError &&
        (error.failure === 'out-of-memory' || error.failure === 'device-lost') &&
        attempt < attempts;
      if (!retry) throw error;
      current = replan(budgetsTenPercentLower(current));
    }
  }
}
