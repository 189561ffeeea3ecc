// The one place the page plans a GGUF model on this device: the probe's adapters, the Settings
// view's wishes and the calibration's figures. The Models view shows this plan, and the session
// sends this very object to the engine worker, so the plan shown is the plan that runs.
import { EngineError, type GgufSourceRef } from '../../engine/messages';
import type { ModelHeader } from '../../engine/gguf/types';
import { planModel } from '../../plan/planner';
import { chooseEngine, cpuOnlyPlan, withEngineChoice } from '../../plan/cpu';
import type { Plan } from '../../plan/types';
import { calibrationState } from '../hardware/calibration.svelte';
import { gpuState } from '../hardware/gpu.svelte';
import { cpuState } from '../hardware/cpu.svelte';
import { settingsState } from '../settings/settings.svelte';
import { headerFromFile, headerFromStore, headerFromUrl } from './header-loader';
import { planInputs, type PlanOverrides } from './plan-input';

export type PlanOutcome = { plan: Plan } | { error: string };

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The plan for `header` with the current settings; null until the GPU probe and the CPU
 * calibration have finished. Without
 * WebGPU (no API, no adapter, a failed probe) the model is planned onto the CPU engine, so every
 * browser can plan and chat.
 */
export function planHere(header: ModelHeader, overrides: PlanOverrides = {}): PlanOutcome | null {
  const probe = gpuState.result;
  const cpu = cpuState.description;
  if (!probe || !cpu) return null;
  try {
    if (probe.status !== 'ok') {
      return {
        plan: cpuOnlyPlan(header, cpu, settingsState.value.contextLength ?? undefined),
      };
    }
    const { devices, wishes } = planInputs(
      probe,
      settingsState.value,
      header.hparams.blockCount,
      (p) => calibrationState.figuresFor(p),
      overrides,
    );
    const gpuPlan = planModel(header, devices, wishes);
    const choice = chooseEngine({
      header,
      gpuPlan,
      adapterClass: devices[0].adapterClass,
      cpu,
      override: settingsState.value.engine,
    });
    return { plan: withEngineChoice(gpuPlan, choice) };
  } catch (error) {
    return { error: `The planner could not plan this model: ${describe(error)}` };
  }
}

function headerOf(source: GgufSourceRef): Promise<ModelHeader> {
  switch (source.type) {
    case 'url':
      return headerFromUrl(source.url);
    case 'file':
      return headerFromFile(new File([source.file], source.name));
    case 'store':
      return headerFromStore(source.modelId);
  }
}

/**
 * Plans the model behind `source` on this device, after the probe and the settings are read; throws
 * with the planner's reasons when the model cannot run here.
 */
export async function planSource(
  source: GgufSourceRef,
  overrides: PlanOverrides = {},
): Promise<Plan> {
  const [header] = await Promise.all([
    headerOf(source),
    gpuState.probe(),
    settingsState.load(),
    cpuState.calibrate(),
  ]);
  const outcome = planHere(header, overrides)!;
  if ('error' in outcome) throw new EngineError('bad-model', outcome.error);
  if (outcome.plan.fits === 'none') {
    throw new EngineError(
      'out-of-memory',
      `This model will not run here: ${outcome.plan.reasons.join(' ')}`,
    );
  }
  return outcome.plan;
}
