// What the planner gets on this device: the adapters the person's GPU choice picks, described
// with the probe's facts, the memory figures and the calibration probe's measurements, and the
// wishes from the Settings view.
import type { AdapterReport, GpuReport } from '../../gpu/probe';
import { adapterName } from '../../gpu/probe';
import { DEFAULT_MARGIN } from '../../plan/budget';
import { describeAdapter, type DeviceFigures } from '../../plan/device';
import type { AdapterRequest, DeviceDescription, PlanWishes } from '../../plan/types';
import type { Settings } from '../../store/settings';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

export interface PlanInputs {
  devices: DeviceDescription[];
  wishes: PlanWishes;
}

/** Choices beside the settings: budgets for a retry after the GPU refused a plan, pinned layers. */
export interface PlanOverrides {
  /** GPU memory budget per device, in the plan's device order (replaces every other figure). */
  budgets?: number[];
  /** Layer ranges pinned by hand for this model, one `[first, last]` per device. */
  pinnedLayers?: [number, number][];
}

/** How the engine's worker asks for this adapter again, and the identity it must find. */
export function adapterRequest(adapter: AdapterReport): AdapterRequest {
  const { vendor, architecture, device, description } = adapter.info;
  return {
    powerPreference: adapter.preferences[0] === 'low-power' ? 'low-power' : 'high-performance',
    vendor,
    architecture,
    device,
    description,
  };
}

/** The adapters the planner plans for under the person's GPU choice. */
export function chosenAdapters(report: GpuReport, choice: Settings['gpuChoice']): AdapterReport[] {
  if (report.sameAdapter || report.adapters.length < 2) return [report.adapters[0]];
  const by = (p: GPUPowerPreference) => report.adapters.find((a) => a.preferences.includes(p))!;
  if (choice === 'split') return [by('high-performance'), by('low-power')];
  return [by(choice)];
}

export function deviceMemoryGiB(report: GpuReport): number | undefined {
  return report.hostMemory ? report.hostMemory.bytes / GiB : undefined;
}

/** Layers `[0, k)` on the first device and `[k, total)` on the second, as the person pinned them. */
export function pinnedSplit(layerSplit: number, blockCount: number): [number, number][] {
  const k = Math.min(Math.max(layerSplit, 1), blockCount - 1);
  return [
    [0, k - 1],
    [k, blockCount - 1],
  ];
}

/**
 * `calibrated` gives the calibration probe's figures per adapter (keyed by its first power
 * preference); they count only while the calibration setting is on.
 */
export function planInputs(
  report: GpuReport,
  settings: Settings,
  blockCount: number,
  calibrated: (preference: GPUPowerPreference) => DeviceFigures | undefined = () => undefined,
  overrides: PlanOverrides = {},
): PlanInputs {
  const devices = chosenAdapters(report, settings.gpuChoice).map((a, i) =>
    describeAdapter(
      {
        name: adapterName(a.info),
        adapterClass: a.class,
        limits: a.limits,
        features: a.features,
        adapter: adapterRequest(a),
      },
      {
        ...(settings.calibrationProbe ? calibrated(a.preferences[0]) : undefined),
        deviceMemoryGiB: deviceMemoryGiB(report),
        userBudgetBytes:
          overrides.budgets?.[i] ??
          (settings.budgetOverrideMiB === null ? undefined : settings.budgetOverrideMiB * MiB),
      },
    ),
  );
  const wishes: PlanWishes = {
    contextTokens: settings.contextLength ?? undefined,
    compute: settings.computePrecision,
    weights: settings.weightPrecision === 'int8' ? 'q8_0' : settings.weightPrecision,
    margin: { fraction: DEFAULT_MARGIN.fraction, minBytes: settings.memoryMarginMiB * MiB },
  };
  if (overrides.pinnedLayers) {
    wishes.pinnedLayers = overrides.pinnedLayers;
  } else if (devices.length === 2 && settings.layerSplit !== null && blockCount >= 2) {
    wishes.pinnedLayers = pinnedSplit(settings.layerSplit, blockCount);
  }
  return { devices, wishes };
}
