import { prebuiltAppConfig } from '@mlc-ai/web-llm';
import { describe, expect, it } from 'vitest';
import { deleteCachedWebLLMModel, listCachedWebLLMModels } from '../../src/engine/webllm/cache';
import { prebuiltModels, summarizeRecords } from '../../src/engine/webllm/catalog';

describe('prebuilt model catalogue', () => {
  it('matches the installed WebLLM prebuiltAppConfig (regenerate prebuilt-models.json if not)', () => {
    expect(prebuiltModels()).toEqual(summarizeRecords(prebuiltAppConfig.model_list));
  });

  it('lists chat models only, with quantization, VRAM and context', () => {
    const models = prebuiltModels();
    expect(models.length).toBeGreaterThan(50);
    const smol = models.find((m) => m.id === 'SmolLM2-360M-Instruct-q4f16_1-MLC');
    expect(smol).toEqual({
      id: 'SmolLM2-360M-Instruct-q4f16_1-MLC',
      family: 'SmolLM2-360M-Instruct',
      quantization: 'q4f16_1',
      vramMB: 376.06,
      contextWindow: 4096,
      lowResource: true,
      requiredFeatures: ['shader-f16'],
    });
    const embedding = prebuiltAppConfig.model_list.find((r) => r.model_type === 1);
    expect(embedding).toBeDefined();
    expect(models.some((m) => m.id === embedding!.model_id)).toBe(false);
  });
});

describe('WebLLM cache helpers', () => {
  it('lists the cached models and deletes one through WebLLM helpers on the IndexedDB backend', async () => {
    const cached = new Set(['Tiny-q4f32_1-MLC']);
    const configs: unknown[] = [];
    const module = {
      prebuiltAppConfig: { model_list: [{ model_id: 'x' }] },
      async hasModelInCache(id: string, config?: unknown) {
        configs.push(config);
        return cached.has(id);
      },
      async deleteModelAllInfoInCache(id: string, config?: unknown) {
        configs.push(config);
        cached.delete(id);
      },
    };
    const models = summarizeRecords([
      { model_id: 'Tiny-q4f32_1-MLC', vram_required_MB: 2 },
      { model_id: 'Tiny-q4f16_1-MLC' },
    ]);
    expect(await listCachedWebLLMModels(module, models)).toEqual([
      {
        id: 'Tiny-q4f32_1-MLC',
        family: 'Tiny',
        quantization: 'q4f32_1',
        sizeBytes: 2 * 1024 * 1024,
        sizeSource: 'vram-estimate',
      },
    ]);
    await deleteCachedWebLLMModel('Tiny-q4f32_1-MLC', module);
    expect(await listCachedWebLLMModels(module, models)).toEqual([]);
    expect(configs.every((c) => (c as { cacheBackend: string }).cacheBackend === 'indexeddb')).toBe(
      true,
    );
  });
});
