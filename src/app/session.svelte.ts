// The model the chat talks to. The Models view and the chat's picker call `session.choose(...)`;
// the chat loads it on first use. A GGUF model loads with the plan the page made for it (planned
// here first when the choice came without one, and again when the engine finds the GPU is no longer
// the one planned for). The choice is remembered across reloads (a picked file cannot be, since a
// File does not survive one: those are imported into the store and chosen from there).
import type { LoadProgress } from '../engine/engine';
import { loadEngine, type LoadedEngine, type ModelChoice } from '../engine/client';
import { toEngineFailure, type EngineFailure, type GgufSourceRef } from '../engine/messages';
import { budgetsTenPercentLower, type CarriedOutPlan } from '../engine/gguf/planned-load';
import type { Plan } from '../plan/types';
import { ModelLibrary } from '../store/models';
import type { ModelManifest } from '../store/manifest';
import { planSource } from './models/planning';
import type { PlanOverrides } from './models/plan-input';

const STORAGE_KEY = 'layerwise:session-model';

/** Plans a GGUF model on this device (the Models view's planner). */
export type SourcePlanner = (source: GgufSourceRef, overrides?: PlanOverrides) => Promise<Plan>;

export interface StoredModelOption {
  id: string;
  name: string;
  /** What the picker shows: the name, and where it came from when another has the same name. */
  label: string;
  size: number;
  contextLength: number | null;
}

function storedOption(manifest: ModelManifest): StoredModelOption {
  const declared = Object.entries(manifest.header ?? {}).find(([key]) =>
    /context_?length$/i.test(key),
  )?.[1];
  return {
    id: manifest.id,
    name: manifest.name,
    label: manifest.name,
    size: manifest.size,
    contextLength: typeof declared === 'number' ? declared : null,
  };
}

/**
 * Options whose names collide are told apart by where their bytes came from (host and folder of
 * the URL, or the imported file) and, if that is shared too, by the start of their SHA-256.
 */
export function distinguish(manifests: ModelManifest[]): StoredModelOption[] {
  const options = manifests.map(storedOption);
  const named = (o: StoredModelOption) => options.filter((x) => x.label === o.label).length > 1;
  const clashing = options.filter(named);
  for (const option of clashing) {
    const manifest = manifests.find((m) => m.id === option.id)!;
    option.label = `${option.name} · ${origin(manifest)}`;
  }
  for (const option of options.filter(named)) {
    const manifest = manifests.find((m) => m.id === option.id)!;
    option.label += ` · ${manifest.sha256?.slice(0, 8) ?? manifest.id}`;
  }
  return options;
}

function origin(manifest: ModelManifest): string {
  if (manifest.source.kind === 'file') return 'imported file';
  const url = new URL(manifest.source.url);
  return `${url.host}${url.pathname.slice(0, url.pathname.lastIndexOf('/'))}`;
}

export type SessionStatus = 'empty' | 'chosen' | 'loading' | 'ready' | 'error';

function remembered(): ModelChoice | null {
  try {
    const text = globalThis.localStorage?.getItem(STORAGE_KEY);
    return text ? (JSON.parse(text) as ModelChoice) : null;
  } catch {
    return null;
  }
}

function remember(choice: ModelChoice | null): void {
  try {
    if (!choice || (choice.kind === 'gguf' && choice.source.type === 'file')) {
      globalThis.localStorage?.removeItem(STORAGE_KEY);
    } else {
      globalThis.localStorage?.setItem(STORAGE_KEY, JSON.stringify(choice));
    }
  } catch {
    // Private modes may refuse storage; the choice then lasts for this visit only.
  }
}

export class Session {
  choice = $state.raw<ModelChoice | null>(remembered());
  status = $state<SessionStatus>(this.choice ? 'chosen' : 'empty');
  progress = $state.raw<LoadProgress | null>(null);
  error = $state.raw<EngineFailure | null>(null);
  contextTokens = $state(0);
  /** Complete GGUF models in the store, for the chat's own model picker. */
  stored = $state.raw<StoredModelOption[]>([]);
  /** The plan as the loaded GGUF engine carried it out, with each device's allocated bytes. */
  carriedOut = $state.raw<CarriedOutPlan | null>(null);
  /** Decode speed of the last answer, to set beside the plan's prediction. */
  measuredDecodeTokensPerSecond = $state<number | null>(null);
  /** Threads the CPU engine runs on, when the model runs there. */
  cpuThreads = $state<number | null>(null);
  private engine: LoadedEngine | null = null;
  private loading: Promise<LoadedEngine> | null = null;
  private controller: AbortController | null = null;

  constructor(
    private readonly load: typeof loadEngine = loadEngine,
    private readonly plan: SourcePlanner = planSource,
  ) {}

  /** Switches to another model, unloading the current one first to free its GPU memory. */
  async choose(choice: ModelChoice): Promise<LoadedEngine> {
    await this.release();
    this.choice = choice;
    remember(choice);
    this.status = 'chosen';
    return this.ensureLoaded();
  }

  /** The loaded engine, loading the chosen model if needed. */
  ensureLoaded(): Promise<LoadedEngine> {
    if (this.engine) return Promise.resolve(this.engine);
    if (this.loading) return this.loading;
    const choice = this.choice;
    if (!choice) {
      return Promise.reject(new Error('No model is chosen: pick one in the Models view first.'));
    }
    const controller = new AbortController();
    this.controller = controller;
    this.status = 'loading';
    this.error = null;
    this.progress = null;
    this.loading = this.loadChoice(choice, controller.signal).then(
      (engine) => {
        this.engine = engine;
        this.contextTokens = engine.contextTokens;
        this.carriedOut = engine.carriedOut ?? null;
        this.cpuThreads = engine.threads ?? null;
        this.measuredDecodeTokensPerSecond = null;
        this.status = 'ready';
        return engine;
      },
      (error: unknown) => {
        this.error = toEngineFailure(error);
        this.status = 'error';
        throw error;
      },
    );
    this.loading.finally(() => (this.loading = null)).catch(() => undefined);
    return this.loading;
  }

  /**
   * Loads `choice`, planning it here first when it has no plan. When the engine finds the GPU is not
   * the one the plan was made for, the model is planned again for this GPU and loaded once more.
   */
  private async loadChoice(choice: ModelChoice, signal: AbortSignal): Promise<LoadedEngine> {
    let current = choice;
    for (let attempt = 0; ; attempt++) {
      if (current.kind === 'gguf' && !current.plan) {
        current = { ...current, plan: await this.plan(current.source) };
        if (this.choice === choice) {
          this.choice = current;
          remember(current);
        }
        choice = current;
      }
      try {
        return await this.load(current, (p) => (this.progress = p), signal);
      } catch (error) {
        const mismatch = toEngineFailure(error).kind === 'plan-mismatch';
        if (!mismatch || attempt > 0 || current.kind !== 'gguf') throw error;
        current = { ...current, plan: undefined };
      }
    }
  }

  /** Called with each finished answer's statistics. */
  recordDecode(tokensPerSecond: number): void {
    if (tokensPerSecond > 0) this.measuredDecodeTokensPerSecond = tokensPerSecond;
  }

  async refreshStored(library = new ModelLibrary()): Promise<void> {
    const manifests = await library.list();
    this.stored = distinguish(manifests.filter((m) => m.state === 'complete'));
  }

  /** Chooses a stored GGUF model; it is planned on this device with the settings, as in Models. */
  async chooseStored(id: string): Promise<LoadedEngine> {
    const option = this.stored.find((m) => m.id === id);
    if (!option) throw new Error(`No stored model ${id}: download or import it in Storage first.`);
    return this.choose({
      kind: 'gguf',
      id: option.id,
      label: option.name,
      source: { type: 'store', modelId: option.id },
    });
  }

  /** After the GPU refused a plan: the same model planned again with budgets 10% lower. */
  async retryWithLessMemory(): Promise<LoadedEngine> {
    const failed = this.error?.plan;
    const choice = this.choice;
    if (!failed || choice?.kind !== 'gguf' || !choice.plan) {
      throw new Error(
        'Only a GGUF model whose plan the GPU refused can be retried with less memory.',
      );
    }
    const plan = await this.plan(choice.source, { budgets: budgetsTenPercentLower(choice.plan) });
    return this.choose({ ...choice, plan });
  }

  cancelLoad(): void {
    this.controller?.abort();
  }

  async release(): Promise<void> {
    this.controller?.abort();
    const engine = this.engine;
    this.engine = null;
    this.contextTokens = 0;
    this.carriedOut = null;
    this.cpuThreads = null;
    this.status = this.choice ? 'chosen' : 'empty';
    if (engine) await engine.unload().catch(() => undefined);
  }

  async forget(): Promise<void> {
    await this.release();
    this.choice = null;
    remember(null);
    this.status = 'empty';
  }
}

export const session = new Session();
