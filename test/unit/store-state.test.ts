import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { modelBytes, sha256, startFixtureServer, type FixtureServer } from '../fixtures/server';
import { downloadModel } from '../../src/store/download';
import { ModelLibrary } from '../../src/store/models';
import { StorageState, type StorageEntry } from '../../src/app/storage/storage.svelte';
import { freshStore, readAll, recordingSink, testEnv } from './store-env';

const C = 8192;
let server: FixtureServer;
const local = new Map<string, string>();

beforeAll(async () => {
  server = await startFixtureServer();
  vi.stubGlobal('localStorage', {
    getItem: (key: string) => local.get(key) ?? null,
    setItem: (key: string, value: string) => local.set(key, value),
  });
});
afterAll(async () => {
  vi.unstubAllGlobals();
  await server.close();
});

describe('StorageState', () => {
  it('resumes on load a download that was running when the page went away', async () => {
    const bytes = modelBytes(6 * C + 9, 21);
    const url = server.setFile('state-resume.gguf', bytes);
    const library = new ModelLibrary(freshStore(), testEnv(), () => C);
    server.faults = { cutAfterBytes: 2 * C + 5, cutTimes: 1 };
    await expect(
      downloadModel(
        library.store,
        library.env,
        { url, chunkBytes: C, retries: 0 },
        new AbortController().signal,
        recordingSink(),
      ),
    ).rejects.toMatchObject({ code: 'network' });
    server.faults = {};
    local.set('layerwise:store-active-downloads', JSON.stringify([url]));
    server.requests.length = 0;
    const state = new StorageState(library);
    await state.load();
    await vi.waitFor(
      () => expect(state.entries.find((e) => e.id === url)?.state).toBe('complete'),
      {
        timeout: 5000,
      },
    );
    expect(server.requests.map((r) => r.range)).toEqual([`bytes=${2 * C}-`]);
    expect(sha256(await readAll(library.store, url, 7))).toBe(sha256(bytes));
    expect(JSON.parse(local.get('layerwise:store-active-downloads')!)).toEqual([]);
  });

  it('lists rows from an extra source and deletes them through it', async () => {
    const library = new ModelLibrary(freshStore(), testEnv(), () => C);
    const state = new StorageState(library);
    const removed: string[] = [];
    const row: StorageEntry = {
      id: 'Qwen2.5-0.5B-q4f16_1-MLC',
      kind: 'webllm',
      name: 'Qwen2.5 0.5B',
      source: 'WebLLM cache',
      size: 945 * 2 ** 20,
      stored: null,
      state: 'complete',
      lastUsed: null,
      damagedChunks: [],
      storeModel: false,
      resumable: false,
      sha256: null,
      persisted: null,
      header: null,
    };
    let rows = [row];
    state.addSource({
      kind: 'webllm',
      list: async () => rows,
      remove: async (id) => {
        removed.push(id);
        rows = [];
      },
    });
    await state.refresh();
    expect(state.entries.map((e) => e.id)).toEqual([row.id]);
    await state.remove(row.id);
    expect(removed).toEqual([row.id]);
    expect(state.entries).toEqual([]);
  });

  it('says so when the URL is not one', () => {
    const state = new StorageState(new ModelLibrary(freshStore(), testEnv(), () => C));
    state.addUrl('not a url');
    expect(state.error).toMatch(/"not a url" is not a URL/);
  });
});
