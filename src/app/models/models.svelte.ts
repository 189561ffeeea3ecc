// State of the Models view: the catalogue with each model's chosen quantization, the headers
// read for planning, the plans on this device, models added by URL or from a file, and the
// search and filters. Downloads and imports go through the Storage view's state; choosing a model
// goes through the chat session.
import type { ModelHeader } from '../../engine/gguf/types';
import type { Plan } from '../../plan/types';
import { predictedDecodeRate } from '../../plan/cpu';
import { idForFile, idForUrl, isSha256Hex, type HeaderSummary } from '../../store/manifest';
import type { ModelChoice } from '../../engine/client';
import { calibrationState } from '../hardware/calibration.svelte';
import { gpuState } from '../hardware/gpu.svelte';
import { cpuState } from '../hardware/cpu.svelte';
import { router } from '../router.svelte';
import { session } from '../session.svelte';
import { settingsState } from '../settings/settings.svelte';
import { storageState } from '../storage/storage.svelte';
import { CATALOGUE, downloadUrl, type CatalogueModel, type CatalogueVariant } from './catalogue';
import { headerFromFile, headerFromStore, headerFromUrl, parseModelUrl } from './header-loader';
import { planHere, type PlanOutcome } from './planning';
import { pinnedSplit } from './plan-input';

export type HeaderState =
  | { status: 'loading' }
  | { status: 'ready'; header: ModelHeader }
  /** Not read because the browser is offline; read when the connection is back. */
  | { status: 'offline' }
  /** `noRange`: the host sends only whole files, so the model can be stored but not planned first. */
  | { status: 'error'; message: string; noRange: boolean };

export type { PlanOutcome };

/** A model the person added by URL or picked from disk, or one found in the store. */
export interface CustomModel {
  /** The store id it gets: the URL without query, or name and size for a file. */
  id: string;
  label: string;
  bytes: number | null;
  url: string | null;
  file: File | null;
  /** The whole file's SHA-256 the person gave, checked once the download completes. */
  sha256: string | null;
  /** `stored`: listed because it is in the store, not because it was added in this list. */
  listed: 'added' | 'stored';
}

/** Models added by URL, kept across reloads (a picked File cannot be; imported ones are stored). */
const ADDED_KEY = 'layerwise:added-models';

function loadAdded(): CustomModel[] {
  try {
    const parsed: unknown = JSON.parse(globalThis.localStorage?.getItem(ADDED_KEY) ?? '[]');
    if (!Array.isArray(parsed)) return [];
    return parsed.flatMap((item: { url?: unknown; label?: unknown; sha256?: unknown }) => {
      if (typeof item?.url !== 'string') return [];
      const parsedUrl = parseModelUrl(item.url);
      if ('error' in parsedUrl) return [];
      const sha = typeof item.sha256 === 'string' && isSha256Hex(item.sha256) ? item.sha256 : null;
      return [addedModel(parsedUrl.href, parsedUrl.label, sha)];
    });
  } catch {
    return [];
  }
}

function saveAdded(models: CustomModel[]): void {
  const kept = models
    .filter((m) => m.url !== null && m.listed === 'added')
    .map((m) => ({ url: m.url, label: m.label, sha256: m.sha256 }));
  try {
    globalThis.localStorage?.setItem(ADDED_KEY, JSON.stringify(kept));
  } catch {
    // A refused localStorage only means the list lasts for this visit.
  }
}

function addedModel(href: string, label: string, sha256: string | null): CustomModel {
  return { id: idForUrl(href), label, bytes: null, url: href, file: null, sha256, listed: 'added' };
}

/** Store ids of every catalogue file: those are listed in the catalogue, not among added ones. */
const CATALOGUE_IDS = new Set(
  CATALOGUE.flatMap((m) => m.variants.map((v) => idForUrl(downloadUrl(v)))),
);

export type FitFilter = 'all' | 'runs' | 'full';
export type KindFilter = 'all' | 'gguf' | 'webllm';

const CONCURRENT_HEADER_READS = 2;
/** Below this a model that fits is too slow to suggest to someone looking for a first model. */
const SUGGESTED_MIN_TOKENS_PER_SECOND = 5;

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
  custom = $state<CustomModel[]>(loadAdded());
  addError = $state<string | null>(null);
  /** Follows the browser's online state, so an offline visit explains itself once. */
  online = $state(globalThis.navigator?.onLine ?? true);
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** Layers on the first GPU, pinned per model on its card when the plan splits across two. */
  pinned = $state<Record<string, number>>({});
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

  /**
   * Reads the header behind `key` once; later calls return at once, so a visit never repeats a
   * read. `force` reads again one that failed or waited for the network (Try again, back online).
   * While offline a read that needs the network is not tried: the card says it waits.
   */
  requestHeader(
    key: string,
    read: () => Promise<ModelHeader>,
    options: { network: boolean; force?: boolean },
  ): void {
    const current = this.headers[key];
    const retry = current?.status === 'error' || current?.status === 'offline';
    if (current && !(options.force && retry)) return;
    this.online = globalThis.navigator?.onLine ?? true;
    if (options.network && !this.online) {
      this.setHeader(key, { status: 'offline' });
      return;
    }
    this.setHeader(key, { status: 'loading' });
    void this.limited(read).then(
      (header) => this.setHeader(key, { status: 'ready', header }),
      (error: unknown) =>
        this.setHeader(key, {
          status: 'error',
          message: `Could not read the model's header: ${describe(error)}`,
          noRange: (error as { code?: unknown } | null)?.code === 'no-range-support',
        }),
    );
  }

  private setHeader(key: string, state: HeaderState | null): void {
    const next = { ...this.headers };
    if (state) next[key] = state;
    else delete next[key];
    this.headers = next;
  }

  requestCatalogueHeader(model: CatalogueModel, force = false): void {
    const url = downloadUrl(this.variantOf(model));
    this.requestHeader(url, () => headerFromUrl(url, { remember: true }), { network: true, force });
  }

  /** Reads the header of a stored model from the store: no network, and the plan it gives is exact. */
  requestStoredHeader(id: string, force = false): void {
    this.requestHeader(id, () => headerFromStore(id), {
      network: false,
      force,
    });
  }

  /**
   * Reads again the headers that waited for the network (on a visit, when the browser is online
   * again) and, with `failed`, those that failed too (when the connection comes back).
   */
  retryFailed(failed = true): void {
    this.online = globalThis.navigator?.onLine ?? true;
    if (!this.online) return;
    const again = (state: HeaderState | undefined) =>
      state?.status === 'offline' || (failed && state?.status === 'error');
    for (const model of CATALOGUE) {
      if (again(this.headers[downloadUrl(this.variantOf(model))])) {
        this.requestCatalogueHeader(model, true);
      }
    }
    for (const model of this.custom) {
      if (model.url && again(this.headers[model.id])) this.readCustomHeader(model, true);
    }
  }

  /** The header of an added or stored model: from the store once complete, else from its source. */
  readCustomHeader(model: CustomModel, force = false): void {
    if (this.stored(model.id)?.state === 'complete') {
      this.requestStoredHeader(model.id, force);
    } else if (model.url) {
      const url = model.url;
      this.requestHeader(model.id, () => headerFromUrl(url), { network: true, force });
    } else if (model.file) {
      const file = model.file;
      this.requestHeader(model.id, () => headerFromFile(file), { network: false, force });
    }
  }

  /** Stored GGUF models that neither the catalogue nor the added list shows. */
  get storedOnly(): CustomModel[] {
    return storageState.entries
      .filter((e) => e.kind === 'gguf' && !CATALOGUE_IDS.has(e.id))
      .filter((e) => !this.custom.some((c) => c.id === e.id))
      .map((e) => ({
        id: e.id,
        label: e.name,
        bytes: e.size,
        url: e.source.startsWith('http') ? e.source : null,
        file: null,
        sha256: null,
        listed: 'stored' as const,
      }));
  }

  /** The smallest catalogue download: what a first visit is pointed to. */
  get firstModel(): { model: CatalogueModel; variant: CatalogueVariant } {
    let best: { model: CatalogueModel; variant: CatalogueVariant } | null = null;
    for (const model of CATALOGUE) {
      for (const variant of model.variants) {
        if (!best || variant.bytes < best.variant.bytes) best = { model, variant };
      }
    }
    return best!;
  }

  /**
   * The plan for a header on this device with the current settings (and the layers pinned on its
   * card when two GPUs share it); null until the probe and the CPU calibration are done, so a
   * plan shown never changes its engine or threads a moment later. Without WebGPU it is the CPU
   * engine's plan.
   */
  planFor(header: ModelHeader, firstDeviceLayers?: number): PlanOutcome | null {
    const probe = gpuState.result;
    const cpu = cpuState.description;
    if (!probe || !cpu) return null;
    const figures = (p: GPUPowerPreference) => calibrationState.figuresFor(p);
    const key = [
      probe,
      cpu,
      settingsState.value,
      figures('high-performance'),
      figures('low-power'),
      firstDeviceLayers,
    ];
    const memo = this.plans.get(header);
    if (memo && memo.key.every((k, i) => k === key[i])) return memo.outcome;
    const layers = header.hparams.blockCount;
    const outcome = planHere(
      header,
      firstDeviceLayers === undefined
        ? {}
        : { pinnedLayers: pinnedSplit(firstDeviceLayers, layers) },
    )!;
    this.plans.set(header, { key, outcome });
    return outcome;
  }

  planForKey(key: string): PlanOutcome | null {
    const state = this.headers[key];
    return state?.status === 'ready' ? this.planFor(state.header, this.pinned[key]) : null;
  }

  /** Pins how many layers the first GPU runs for one model (null: split by memory again). */
  pin(key: string, firstDeviceLayers: number | null): void {
    const next = { ...this.pinned };
    if (firstDeviceLayers === null) delete next[key];
    else next[key] = firstDeviceLayers;
    this.pinned = next;
  }

  /**
   * The largest catalogue model (then the largest variant), among those planned, that runs fully
   * on the engine chosen for it (the GPU, or the CPU engine) at a usable speed.
   */
  get suggestion(): { model: CatalogueModel; variant: CatalogueVariant; plan: Plan } | null {
    let best: { model: CatalogueModel; variant: CatalogueVariant; plan: Plan } | null = null;
    for (const model of CATALOGUE) {
      for (const variant of model.variants) {
        const outcome = this.planForKey(downloadUrl(variant));
        if (!outcome || !('plan' in outcome) || outcome.plan.fits !== 'full') continue;
        if (predictedDecodeRate(outcome.plan) < SUGGESTED_MIN_TOKENS_PER_SECOND) continue;
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
    const { plan } = outcome;
    return this.fit === 'full'
      ? plan.fits === 'full' && plan.engine !== 'cpu'
      : plan.fits !== 'none';
  }

  addUrl(text: string, sha256 = ''): void {
    this.addError = null;
    const parsed = parseModelUrl(text);
    if ('error' in parsed) {
      this.addError = parsed.error;
      return;
    }
    const sha = sha256.trim().toLowerCase() || null;
    if (sha !== null && !isSha256Hex(sha)) {
      this.addError = `"${sha256.trim()}" is not a SHA-256: give the 64 hex digits the host lists, or leave it empty.`;
      return;
    }
    const model = addedModel(parsed.href, parsed.label, sha);
    const existing = this.custom.find((c) => c.id === model.id);
    if (existing) {
      if (sha) existing.sha256 = sha;
    } else {
      this.custom = [...this.custom, model];
    }
    saveAdded(this.custom);
    this.readCustomHeader(existing ?? model, true);
  }

  addFile(file: File): void {
    this.addError = null;
    const id = idForFile(file.name, file.size);
    const model: CustomModel = {
      id,
      label: file.name,
      bytes: file.size,
      url: null,
      file,
      sha256: null,
      listed: 'added',
    };
    if (!this.custom.some((c) => c.id === id)) this.custom = [...this.custom, model];
    this.readCustomHeader(model, true);
  }

  removeCustom(id: string): void {
    this.custom = this.custom.filter((c) => c.id !== id);
    saveAdded(this.custom);
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

  /** Hands a stored GGUF model to the chat with the plan shown for it, and opens the chat. */
  useStored(id: string, label: string, plan: Plan): void {
    this.use({ kind: 'gguf', id, label, source: { type: 'store', modelId: id }, plan });
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
