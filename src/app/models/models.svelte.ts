// State of the Models view: the catalogue with each model's chosen quantization, the headers
// read for planning, the plans on this device, models added by URL or from a file, and the
// search and filters. Downloads and imports go through the Storage view's state; choosing a model
// goes through the chat session.
import type { ModelHeader } from '../../engine/gguf/types';
import { planModel } from '../../plan/planner';
import type { Plan } from '../../plan/types';
import { idForFile, idForUrl, type HeaderSummary } from '../../store/manifest';
import type { ModelChoice } from '../../engine/client';
import { calibrationState } from '../hardware/calibration.svelte';
import { gpuState } from '../hardware/gpu.svelte';
import { router } from '../router.svelte';
import { session } from '../session.svelte';
import { settingsState } from '../settings/settings.svelte';
import { storageState } from '../storage/storage.svelte';
import { CATALOGUE, downloadUrl, type CatalogueModel, type CatalogueVariant } from './catalogue';
import { headerFromFile, headerFromUrl, parseModelUrl } from './header-loader';
import { planInputs } from './plan-input';

export type HeaderState =
  | { status: 'loading' }
  | { status: 'ready'; header: ModelHeader }
  | { status: 'error'; message: string };

export type PlanOutcome = { plan: Plan } | { error: string };

/** A model the person added by URL or picked from disk, before or after storing it. */
export interface CustomModel {
  /** The store id it gets: the URL without query, or name and size for a file. */
  id: string;
  label: string;
  bytes: number | null;
  url: string | null;
  file: File | null;
}

export type FitFilter = 'all' | 'runs' | 'full';
export type KindFilter = 'all' | 'gguf' | 'webllm';

const CONCURRENT_HEADER_READS = 2;

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The few header facts the Storage view lists beside a stored model. */
export function headerSummary(header: ModelHeader): HeaderSummary {
  const h = header.hparams;
  return {
    name: h.name,
    architecture: h.architecture,
    layers: h.blockCount,
    context: h.contextLength,
  };
}

export function matchesQuery(text: string, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const haystack = text.toLowerCase();
  return words.every((w) => haystack.includes(w));
}

export class ModelsState {
  query = $state('');
  fit = $state<FitFilter>('all');
  kind = $state<KindFilter>('all');
  /** The quantization shown per catalogue model id. */
  quant = $state<Record<string, string>>({});
  /** Raw: headers are large and never change once read, so they need no deep reactivity. */
  headers = $state.raw<Record<string, HeaderState>>({});
  custom = $state<CustomModel[]>([]);
  addError = $state<string | null>(null);
  /** Follows the browser's online state, so an offline visit explains itself once. */
  online = $state(globalThis.navigator?.onLine ?? true);
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly plans = new WeakMap<ModelHeader, { key: unknown[]; outcome: PlanOutcome }>();

  constructor() {
    globalThis.addEventListener?.('online', () => {
      this.online = true;
      this.retryFailed();
    });
    globalThis.addEventListener?.('offline', () => (this.online = false));
  }

  variantOf(model: CatalogueModel): CatalogueVariant {
    const quant = this.quant[model.id];
    return model.variants.find((v) => v.quant === quant) ?? model.variants[0];
  }

  /** Reads the header behind `key` once; later calls return at once. */
  requestHeader(key: string, read: () => Promise<ModelHeader>): void {
    if (this.headers[key] && this.headers[key].status !== 'error') return;
    this.setHeader(key, { status: 'loading' });
    void this.limited(read).then(
      (header) => this.setHeader(key, { status: 'ready', header }),
      (error: unknown) =>
        this.setHeader(key, {
          status: 'error',
          message: `Could not read the model's header: ${describe(error)}`,
        }),
    );
  }

  private setHeader(key: string, state: HeaderState | null): void {
    const next = { ...this.headers };
    if (state) next[key] = state;
    else delete next[key];
    this.headers = next;
  }

  requestCatalogueHeader(model: CatalogueModel): void {
    const url = downloadUrl(this.variantOf(model));
    this.requestHeader(url, () => headerFromUrl(url));
  }

  /** Reads again the catalogue headers that failed, e.g. once the connection is back. */
  retryFailed(): void {
    for (const model of CATALOGUE) {
      const url = downloadUrl(this.variantOf(model));
      if (this.headers[url]?.status === 'error') this.requestCatalogueHeader(model);
    }
  }

  /** The plan for a header on this device with the current settings; null until the probe is done. */
  planFor(header: ModelHeader): PlanOutcome | null {
    const report = gpuState.report;
    if (!report) return null;
    const settings = settingsState.value;
    const figures = (p: GPUPowerPreference) => calibrationState.figuresFor(p);
    const key = [report, settings, figures('high-performance'), figures('low-power')];
    const memo = this.plans.get(header);
    if (memo && memo.key.every((k, i) => k === key[i])) return memo.outcome;
    let outcome: PlanOutcome;
    try {
      const { devices, wishes } = planInputs(report, settings, header.hparams.blockCount, figures);
      outcome = { plan: planModel(header, devices, wishes) };
    } catch (error) {
      outcome = { error: `The planner could not plan this model: ${describe(error)}` };
    }
    this.plans.set(header, { key, outcome });
    return outcome;
  }

  planForKey(key: string): PlanOutcome | null {
    const state = this.headers[key];
    return state?.status === 'ready' ? this.planFor(state.header) : null;
  }

  /** The largest catalogue model (then the largest variant) that runs fully on the GPU, among those planned. */
  get suggestion(): { model: CatalogueModel; variant: CatalogueVariant; plan: Plan } | null {
    let best: { model: CatalogueModel; variant: CatalogueVariant; plan: Plan } | null = null;
    for (const model of CATALOGUE) {
      for (const variant of model.variants) {
        const outcome = this.planForKey(downloadUrl(variant));
        if (!outcome || !('plan' in outcome) || outcome.plan.fits !== 'full') continue;
        const better =
          !best ||
          model.billions > best.model.billions ||
          (model.billions === best.model.billions && variant.bytes > best.variant.bytes);
        if (better) best = { model, variant, plan: outcome.plan };
      }
    }
    return best;
  }

  passesFit(outcome: PlanOutcome | null): boolean {
    if (this.fit === 'all') return true;
    if (!outcome || !('plan' in outcome)) return false;
    return this.fit === 'full' ? outcome.plan.fits === 'full' : outcome.plan.fits !== 'none';
  }

  addUrl(text: string): void {
    this.addError = null;
    const parsed = parseModelUrl(text);
    if ('error' in parsed) {
      this.addError = parsed.error;
      return;
    }
    const id = idForUrl(parsed.href);
    if (!this.custom.some((c) => c.id === id)) {
      this.custom = [
        ...this.custom,
        { id, label: parsed.label, bytes: null, url: parsed.href, file: null },
      ];
    }
    this.requestHeader(id, () => headerFromUrl(parsed.href));
  }

  addFile(file: File): void {
    this.addError = null;
    const id = idForFile(file.name, file.size);
    if (!this.custom.some((c) => c.id === id)) {
      this.custom = [...this.custom, { id, label: file.name, bytes: file.size, url: null, file }];
    }
    this.requestHeader(id, () => headerFromFile(file));
  }

  removeCustom(id: string): void {
    this.custom = this.custom.filter((c) => c.id !== id);
    this.setHeader(id, null);
  }

  /** The store's entry for a model id, if it is stored or being stored. */
  stored(id: string) {
    return storageState.entries.find((e) => e.id === id) ?? null;
  }

  transfer(id: string) {
    return storageState.transfers[id] ?? null;
  }

  /** Stores a model; the known size lets the store check the quota before the first byte. */
  download(url: string, sha256: string | null, bytes: number | null, header: ModelHeader | null) {
    storageState.addUrl(url, sha256 ?? undefined, {
      size: bytes ?? undefined,
      header: header ? headerSummary(header) : undefined,
    });
  }

  importFile(file: File): void {
    storageState.importFiles([file]);
  }

  /** Hands a stored GGUF model to the chat with the plan's choices and opens the chat. */
  useStored(id: string, label: string, plan: Plan): void {
    this.use({
      kind: 'gguf',
      id,
      label,
      source: { type: 'store', modelId: id },
      options: {
        contextTokens: plan.contextTokens,
        f16: plan.precision.compute === 'f16' ? 'on' : 'off',
        residentLayers: plan.layers.resident,
        weights: plan.precision.weights,
      },
    });
  }

  useWebLLM(modelId: string, label: string, contextWindowSize: number): void {
    this.use({ kind: 'webllm', id: modelId, label, modelId, contextWindowSize });
  }

  private use(choice: ModelChoice): void {
    // The chat shows the loading progress and any failure; the promise is only awaited there.
    session.choose(choice).catch(() => undefined);
    router.navigate('chat');
  }

  private async limited<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= CONCURRENT_HEADER_READS) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

export const modelsState = new ModelsState();
