// The infer CLI's residency flags: --resident-layers N, --devices 2 and --weights q8_0 become planner
// wishes for the dawn.node device(s); the engine then loads exactly that plan, and the JSON reports
// the plan and what each device's allocator counted.
import { DEFAULT_CONTEXT_TOKENS, planJson, planModel, type Plan, type PlanJson } from '../plan';
import type { DeviceFigures } from '../plan';
import { checkSupported, parseHeader } from '../engine/gguf/header';
import { GgufEngine } from '../engine/gguf/engine';
import { textCodec } from '../engine/gguf/text-codec';
import type { AllocatedBytes } from '../engine/gguf/allocator';
import type { ModelSource } from '../engine/gguf/types';
import type { EngineDevice } from '../gpu/device';
import { openCliDevice, precisionChoice } from './engine-cli';
import { CliUsageError, numberFlag, type CliArgs } from './args';
import { describeEngineDevice } from '../engine/device-description';

/** Value flags the residency options add to a CLI. */
export const RESIDENCY_FLAGS = ['resident-layers', 'devices', 'weights'];
export const RESIDENCY_USAGE = '[--resident-layers N] [--devices 1|2] [--weights file|q8_0]';

export interface PlannedCliEngine {
  engine: GgufEngine;
  devices: EngineDevice[];
  plan: Plan;
}

export async function loadPlannedCliEngine(
  source: ModelSource,
  args: CliArgs,
  figures: DeviceFigures = {},
): Promise<PlannedCliEngine> {
  const count = numberFlag(args, 'devices', 1);
  if (count !== 1 && count !== 2) throw new CliUsageError(`--devices must be 1 or 2, not ${count}`);
  const weights = args.values.weights ?? 'file';
  if (weights !== 'file' && weights !== 'q8_0') {
    throw new CliUsageError(`--weights must be file or q8_0, not "${weights}"`);
  }
  const residentText = args.values['resident-layers'];
  const resident = residentText === undefined ? undefined : numberFlag(args, 'resident-layers', 0);
  if (resident !== undefined && count === 2) {
    throw new CliUsageError(
      '--resident-layers applies to one device; with --devices 2 the planner splits the layers',
    );
  }
  const header = await parseHeader(source);
  checkSupported(header);
  if (resident !== undefined) {
    const layers = header.hparams.blockCount;
    if (!Number.isInteger(resident) || resident < 0 || resident > layers) {
      throw new CliUsageError(`--resident-layers must be a whole number from 0 to ${layers}`);
    }
  }
  const cap =
    args.values['binding-cap'] === undefined ? undefined : numberFlag(args, 'binding-cap', 0);
  const devices: EngineDevice[] = [];
  for (let i = 0; i < count; i++) devices.push(await openCliDevice(args));
  const descriptions = devices.map((d, i) => {
    const description = describeEngineDevice(d, figures, count > 1 ? ` #${i}` : '');
    const limits = description.limits;
    if (cap !== undefined) {
      limits.maxStorageBufferBindingSize = Math.min(limits.maxStorageBufferBindingSize, cap);
    }
    return description;
  });
  const context =
    args.values.context === undefined
      ? Math.min(header.hparams.contextLength, DEFAULT_CONTEXT_TOKENS)
      : numberFlag(args, 'context', 0);
  const plan = planModel(header, descriptions, {
    contextTokens: context,
    contextFloor: context,
    compute: precisionChoice(args),
    weights,
    residentLayers: resident,
  });
  if (plan.fits === 'none') {
    throw new Error(`The planner found no way to run this model here: ${plan.reasons.join(' ')}`);
  }
  const engine = await GgufEngine.loadPlanned(devices, source, header, plan, {
    codec: textCodec,
    maxBindingBytes: cap,
    lanesPerRow: args.values.lanes === undefined ? undefined : numberFlag(args, 'lanes', 1),
  });
  return { engine, devices, plan };
}

export interface PlanReport {
  plan: PlanJson;
  allocated: (AllocatedBytes & { device: string })[];
}

/** The `"plan"` and `"allocated"` fields of the infer JSON. */
export function planReport(loaded: PlannedCliEngine): PlanReport {
  const allocated = loaded.engine.planned.allocated();
  return {
    plan: planJson(loaded.plan),
    allocated: allocated.map((bytes, i) => ({
      device: loaded.plan.layers.devices[i].name,
      ...bytes,
    })),
  };
}
