import 'fake-indexeddb/auto';
import { createStore } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SETTINGS,
  loadSettings,
  normalizeSettings,
  saveSettings,
  type Settings,
} from '../../src/store/settings';

describe('settings', () => {
  it('starts from the defaults when nothing is stored', async () => {
    const store = createStore('settings-test-empty', 'kv');
    expect(await loadSettings(store)).toEqual(DEFAULT_SETTINGS);
    // No system prompt unless the person sets one: the model's own template decides.
    expect(DEFAULT_SETTINGS.systemPrompt).toBe('');
  });

  it('round-trips every field through IndexedDB', async () => {
    const store = createStore('settings-test-roundtrip', 'kv');
    const wanted: Settings = {
      memoryMarginMiB: 1024,
      budgetOverrideMiB: 6144,
      calibrationProbe: false,
      computePrecision: 'f32',
      weightPrecision: 'int8',
      contextLength: 8192,
      gpuChoice: 'split',
      layerSplit: 20,
      systemPrompt: 'Answer in one sentence.',
      engine: 'cpu',
    };
    await saveSettings(wanted, store);
    expect(await loadSettings(store)).toEqual(wanted);
  });

  it('replaces invalid fields with defaults and clamps numbers', () => {
    const normalized = normalizeSettings({
      memoryMarginMiB: -5,
      budgetOverrideMiB: 'lots',
      calibrationProbe: 'yes',
      computePrecision: 'f8',
      weightPrecision: 'file',
      contextLength: 12.6e6,
      gpuChoice: 'low-power',
      layerSplit: 3.4,
      engine: 'tpu',
    });
    expect(normalized).toEqual({
      ...DEFAULT_SETTINGS,
      memoryMarginMiB: 0,
      weightPrecision: 'file',
      contextLength: 1048576,
      gpuChoice: 'low-power',
      layerSplit: 3,
    });
    expect(normalizeSettings(null)).toEqual(DEFAULT_SETTINGS);
  });
});
