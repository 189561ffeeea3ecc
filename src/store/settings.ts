// The person's settings: what the planner and the engines may use, stored in IndexedDB through
// idb-keyval in a database of their own, so the model store's schema never has to know about them.
import { createStore, get, set, type UseStore } from 'idb-keyval';
import type { ComputeWish } from '../plan/types';

/** The weight precision as the Settings view offers it (`int8` is the planner's `q8_0`). */
export type WeightSetting = 'auto' | 'file' | 'int8';
/** Which engine runs GGUF models: the planner's pick, our WebGPU engine, or llama.cpp on the CPU. */
export type EngineSetting = 'auto' | 'gpu' | 'cpu';
/** Which GPU runs the model when the browser offers two; `split` uses both. */
export type GpuChoice = 'high-performance' | 'low-power' | 'split';

export interface Settings {
  /** GPU memory kept free for the browser, the desktop and other tabs, in MiB. */
  memoryMarginMiB: number;
  /** The GPU memory budget in MiB, replacing the calibration and the adapter's limits; null: automatic. */
  budgetOverrideMiB: number | null;
  /** Measure how much GPU memory really fits by allocating fixed chunks before planning. */
  calibrationProbe: boolean;
  computePrecision: ComputeWish;
  weightPrecision: WeightSetting;
  /** Context length in tokens; null lets the planner choose what fits. */
  contextLength: number | null;
  gpuChoice: GpuChoice;
  /** With `split`: layers on the high-performance GPU, the rest on the low-power one; null: by memory. */
  layerSplit: number | null;
  /**
   * The system prompt of conversations without their own. Empty by default: the model's chat
   * template then decides (some add their own default), as llama.cpp does.
   */
  systemPrompt: string;
  engine: EngineSetting;
}

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  memoryMarginMiB: 512,
  budgetOverrideMiB: null,
  calibrationProbe: true,
  computePrecision: 'auto',
  weightPrecision: 'auto',
  contextLength: null,
  gpuChoice: 'high-performance',
  layerSplit: null,
  systemPrompt: '',
  engine: 'auto',
});

export const SETTINGS_BOUNDS = {
  memoryMarginMiB: { min: 0, max: 65536 },
  // Down to 1 MiB: small models and tests plan within budgets of a few MiB.
  budgetOverrideMiB: { min: 1, max: 1048576 },
  contextLength: { min: 128, max: 1048576 },
  layerSplit: { min: 0, max: 1024 },
} as const;

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback;
}

function integerIn(value: unknown, bounds: { min: number; max: number }): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  return Math.min(bounds.max, Math.max(bounds.min, Math.round(value)));
}

function optionalInteger(
  value: unknown,
  bounds: { min: number; max: number },
  fallback: number | null,
): number | null {
  if (value === null) return null;
  return integerIn(value, bounds) ?? fallback;
}

/**
 * Settings from anything stored (an older version, a hand-edited export): each field that is
 * missing or invalid takes its default, numbers are clamped to their bounds.
 */
export function normalizeSettings(raw: unknown): Settings {
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const d = DEFAULT_SETTINGS;
  return {
    memoryMarginMiB:
      integerIn(r.memoryMarginMiB, SETTINGS_BOUNDS.memoryMarginMiB) ?? d.memoryMarginMiB,
    budgetOverrideMiB: optionalInteger(
      r.budgetOverrideMiB,
      SETTINGS_BOUNDS.budgetOverrideMiB,
      d.budgetOverrideMiB,
    ),
    calibrationProbe:
      typeof r.calibrationProbe === 'boolean' ? r.calibrationProbe : d.calibrationProbe,
    computePrecision: oneOf(r.computePrecision, ['auto', 'f16', 'f32'], d.computePrecision),
    weightPrecision: oneOf(r.weightPrecision, ['auto', 'file', 'int8'], d.weightPrecision),
    contextLength: optionalInteger(r.contextLength, SETTINGS_BOUNDS.contextLength, d.contextLength),
    gpuChoice: oneOf(r.gpuChoice, ['high-performance', 'low-power', 'split'], d.gpuChoice),
    layerSplit: optionalInteger(r.layerSplit, SETTINGS_BOUNDS.layerSplit, d.layerSplit),
    systemPrompt: typeof r.systemPrompt === 'string' ? r.systemPrompt : d.systemPrompt,
    engine: oneOf(r.engine, ['auto', 'gpu', 'cpu'], d.engine),
  };
}

const KEY = 'settings';
let defaultStore: UseStore | undefined;

function settingsStore(): UseStore {
  defaultStore ??= createStore('layerwise-settings', 'kv');
  return defaultStore;
}

export async function loadSettings(store: UseStore = settingsStore()): Promise<Settings> {
  return normalizeSettings(await get(KEY, store));
}

export async function saveSettings(
  settings: Settings,
  store: UseStore = settingsStore(),
): Promise<Settings> {
  const normalized = normalizeSettings(settings);
  await set(KEY, normalized, store);
  return normalized;
}
