// WebLLM's cached models for the Storage view, through WebLLM's own helpers (its IndexedDB layout
// is WebLLM's business). WebLLM records no download size, so the size shown is its own VRAM
// estimate, labelled as such.
import { prebuiltModels, type PrebuiltModel } from './catalog';

export interface CachedWebLLMModel {
  id: string;
  family: string;
  quantization: string;
  /** Bytes; `sizeSource` says where the figure came from. */
  sizeBytes: number | null;
  sizeSource: 'vram-estimate' | 'unknown';
}

/** The helpers this module uses, injectable for tests. */
export interface WebLLMCacheModuleLike {
  prebuiltAppConfig: { model_list: unknown[] };
  hasModelInCache(modelId: string, appConfig?: unknown): Promise<boolean>;
  deleteModelAllInfoInCache(modelId: string, appConfig?: unknown): Promise<void>;
}

const USED_KEY = 'layerwise:webllm-used';

/** Set before WebLLM first downloads anything, so listing its cache never fetches WebLLM for nothing. */
export function markWebLLMUsed(): void {
  try {
    globalThis.localStorage?.setItem(USED_KEY, '1');
  } catch {
    // Without storage the flag cannot be kept; listing then stays off, as for a first visit.
  }
}

export function webllmEverUsed(): boolean {
  try {
    return globalThis.localStorage?.getItem(USED_KEY) === '1';
  } catch {
    return false;
  }
}

async function webllm(): Promise<WebLLMCacheModuleLike> {
  return (await import('@mlc-ai/web-llm')) as unknown as WebLLMCacheModuleLike;
}

function appConfig(module: WebLLMCacheModuleLike) {
  return { model_list: module.prebuiltAppConfig.model_list, cacheBackend: 'indexeddb' as const };
}

function describeCached(model: PrebuiltModel): CachedWebLLMModel {
  return {
    id: model.id,
    family: model.family,
    quantization: model.quantization,
    sizeBytes: model.vramMB === null ? null : Math.round(model.vramMB * 1024 * 1024),
    sizeSource: model.vramMB === null ? 'unknown' : 'vram-estimate',
  };
}

export async function listCachedWebLLMModels(
  module?: WebLLMCacheModuleLike,
  models: readonly PrebuiltModel[] = prebuiltModels(),
): Promise<CachedWebLLMModel[]> {
  const m = module ?? (await webllm());
  const config = appConfig(m);
  const cached = await Promise.all(models.map((model) => m.hasModelInCache(model.id, config)));
  return models.filter((_, i) => cached[i]).map(describeCached);
}

export async function deleteCachedWebLLMModel(
  modelId: string,
  module?: WebLLMCacheModuleLike,
): Promise<void> {
  const m = module ?? (await webllm());
  await m.deleteModelAllInfoInCache(modelId, appConfig(m));
}
