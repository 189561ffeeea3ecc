// WebLLM's cached models as rows of the Storage view, through WebLLM's own helpers. Listed only
// once WebLLM has been used, so the Storage view never fetches WebLLM's module for nothing.
import { session } from '../session.svelte';
import { storageState, type ExtraEntrySource, type StorageEntry } from '../storage/storage.svelte';

export const webllmCacheSource: ExtraEntrySource = {
  kind: 'webllm',
  async list(): Promise<StorageEntry[]> {
    const cache = await import('../../engine/webllm/cache');
    if (!cache.webllmEverUsed()) return [];
    const cached = await cache.listCachedWebLLMModels();
    return cached.map((model) => ({
      id: model.id,
      kind: 'webllm',
      name: model.id,
      source:
        model.sizeSource === 'vram-estimate'
          ? "WebLLM prebuilt model (size: WebLLM's VRAM estimate)"
          : 'WebLLM prebuilt model',
      size: model.sizeBytes,
      stored: model.sizeBytes,
      state: 'complete',
      lastUsed: null,
      damagedChunks: [],
      storeModel: false,
      resumable: false,
      sha256: null,
      persisted: null,
      header: { quantization: model.quantization, family: model.family },
    }));
  },
  async remove(id: string): Promise<void> {
    if (session.choice?.kind === 'webllm' && session.choice.modelId === id) await session.forget();
    const cache = await import('../../engine/webllm/cache');
    await cache.deleteCachedWebLLMModel(id);
  },
};

storageState.addSource(webllmCacheSource);
