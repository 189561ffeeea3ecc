// Hosts and files that lie to the model store: each is refused or started over, never stored as a
// complete model, and an interrupted Verify never leaves a model stuck.
import { createStore } from 'idb-keyval';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  generateBytes,
  modelBytes,
  sha256,
  startFixtureServer,
  type FixtureServer,
} from '../fixtures/server';
import { downloadModel } from '../../src/store/download';
import { importFile } from '../../src/store/import';
import { newManifest } from '../../src/store/manifest';
import { ModelStore } from '../../src/store/model-store';
import { ModelLibrary } from '../../src/store/models';
import { StorageState } from '../../src/app/storage/storage.svelte';
import { verifyModel } from '../../src/store/verify';
import { freshStore, readAll, recordingSink, testEnv } from './store-env';

const C = 8192;
const SIZE = 6 * C + 300;
let server: FixtureServer;
let databases = 0;

beforeAll(async () => {
  server = await startFixtureServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.faults = {};
  server.requests.length = 0;
});

function download(store: ModelStore, url: string, retries = 3) {
  return downloadModel(
    store,
    testEnv(),
    { url, chunkBytes: C, backoffMs: 1, retries },
    new AbortController().signal,
    recordingSink(),
  );
}

/** Two ModelStores over the same databases: the second plays the page after a reload. */
function storePair(): [ModelStore, () => ModelStore] {
  databases++;
  const open = () =>
    new ModelStore(
      createStore(`hostile-models-${databases}`, 'manifests'),
      createStore(`hostile-chunks-${databases}`, 'chunks'),
    );
  return [open(), open];
}

describe('downloads from hosts that lie', () => {
  it('counts a validator missing on resume as a change, so another file is never mixed in', async () => {
    const first = modelBytes(SIZE, 21);
    const url = server.setFile('validator.gguf', first, { linkedEtag: false });
    const store = freshStore();
    server.faults = { cutAfterBytes: 3 * C + 10, cutTimes: 1 };
    await expect(download(store, url, 0)).rejects.toMatchObject({ code: 'network' });
    expect((await store.getManifest(url))!.etag).toBe(server.file('validator.gguf').etag);
    // Another file of the same size now, served without ETag or Last-Modified.
    const second = modelBytes(SIZE, 22);
    server.setFile('validator.gguf', second, { linkedEtag: false });
    server.faults = { omitValidators: true };
    server.requests.length = 0;
    const m = await download(store, url);
    expect(m.state).toBe('complete');
    expect(m.sha256).toBe(sha256(second));
    expect(sha256(await readAll(store, url, m.chunks.length))).toBe(sha256(second));
    expect(server.requests.map((r) => r.range)).toEqual([`bytes=${3 * C}-`, 'bytes=0-']);
  });

  it('does not store a body longer than its Content-Range as complete', async () => {
    const url = server.setFile('long-body.gguf', modelBytes(SIZE, 23));
    const store = freshStore();
    // Says the file is C bytes and sends all SIZE.
    server.faults = { contentRange: `bytes 0-${C - 1}/${C}` };
    const error = await download(store, url).catch((e) => e);
    expect(error).toMatchObject({ code: 'bad-input' });
    expect(error.message).toMatch(/sends \d+ bytes where its Content-Range .* promises 8192/);
    expect(await store.getManifest(url)).toBeUndefined();
  });

  it('does not store a chunked body that runs past its Content-Range as complete', async () => {
    const url = server.setFile('endless.gguf', modelBytes(SIZE, 24));
    const store = freshStore();
    server.faults = { endless: true, contentRange: `bytes 0-${C - 1}/${C}` };
    const error = await download(store, url).catch((e) => e);
    expect(error).toMatchObject({ code: 'bad-input' });
    expect(error.message).toMatch(/sent more than bytes 0-8191 of 8192/);
    const manifest = await store.getManifest(url);
    expect(manifest?.state).not.toBe('complete');
    expect(manifest?.chunks.every((c) => c === null)).toBe(true);
  });

  it('refuses a Content-Range total of 0', async () => {
    const url = server.setFile('total-zero.gguf', modelBytes(SIZE, 25));
    const store = freshStore();
    server.faults = { contentRange: `bytes 0-${SIZE - 1}/0` };
    const error = await download(store, url).catch((e) => e);
    expect(error).toMatchObject({ code: 'bad-input' });
    expect(error.message).toMatch(/Content-Range "bytes 0-\d+\/0" is not a range of a file/);
    expect(await store.getManifest(url)).toBeUndefined();
  });

  it('checks the GGUF magic before storing: an HTML page leaves no model behind', async () => {
    const page = new TextEncoder().encode(`<!doctype html><html>${'x'.repeat(SIZE)}</html>`);
    const url = server.setFile('page.gguf', page);
    const store = freshStore();
    const error = await download(store, url).catch((e) => e);
    expect(error).toMatchObject({ code: 'not-gguf' });
    expect(error.message).toMatch(
      /page\.gguf is not a GGUF model: it starts with "<!doctype html><"/,
    );
    expect(await store.listManifests()).toEqual([]);
    expect(await store.chunkIndices(url)).toEqual([]);
  });

  it('refuses an imported file that is not GGUF before storing anything', async () => {
    const store = freshStore();
    const file = Object.assign(new Blob([generateBytes(3 * C, 26) as Uint8Array<ArrayBuffer>]), {
      name: 'renamed.gguf',
    });
    const error = await importFile(
      store,
      testEnv(),
      file,
      { chunkBytes: C },
      new AbortController().signal,
      recordingSink(),
    ).catch((e) => e);
    expect(error).toMatchObject({ code: 'not-gguf' });
    expect(await store.listManifests()).toEqual([]);
  });
});

describe('Verify interrupted by a reload', () => {
  it('never leaves the model stuck "verifying"', async () => {
    const [store, reopen] = storePair();
    const url = server.setFile('verify-reload.gguf', modelBytes(SIZE, 27));
    await download(store, url);
    // The page goes away while Verify waits for a chunk: the read never returns.
    const stalled = Object.create(store) as ModelStore;
    stalled.getChunk = () => new Promise(() => {});
    const sink = recordingSink();
    void verifyModel(stalled, testEnv(), url, new AbortController().signal, sink);
    await expect.poll(() => sink.statuses).toContain('verifying');
    const after = await reopen().getManifest(url);
    expect(after?.state).toBe('complete');
  });

  it('reads a manifest an older version left "verifying" as what its chunks say', async () => {
    const [store] = storePair();
    const manifest = newManifest({
      id: 'x',
      source: { kind: 'url', url: 'http://127.0.0.1/x.gguf' },
      name: 'x.gguf',
      size: 2 * C,
      chunkBytes: C,
    });
    await store.putManifest({ ...manifest, state: 'verifying' });
    expect((await store.getManifest('x'))?.state).toBe('partial');
    const [a, b, c] = ['a', 'b', 'c'].map((x) => x.repeat(64));
    await store.putManifest({ ...manifest, chunks: [a, b], sha256: c, state: 'verifying' });
    expect((await store.listManifests())[0].state).toBe('complete');
  });
});

describe('pause', () => {
  it('shows one size when paused mid-chunk, the stored one, and resumes from it', async () => {
    // Chunks that do not divide the server's 64 KiB pieces, so a pause lands mid-chunk.
    const chunk = 157 * 64;
    const bytes = modelBytes(20 * chunk, 28);
    const url = server.setFile('pause-size.gguf', bytes);
    const library = new ModelLibrary(freshStore(), testEnv(), () => chunk);
    server.faults = { bytesPerSecond: 200_000 };
    const transfer = library.download({ url, backoffMs: 1 });
    const running = transfer.run();
    await expect.poll(() => transfer.progress.loaded).toBeGreaterThan(0);
    transfer.pause();
    expect(await running).toEqual({ kind: 'paused' });
    const stored = await library.storedBytes(url);
    expect(stored % chunk).toBe(0);
    expect(transfer.progress).toMatchObject({ status: 'paused', loaded: stored });
    server.faults = {};
    server.requests.length = 0;
    expect((await transfer.run()).kind).toBe('complete');
    expect(server.requests.map((r) => r.range)).toEqual([`bytes=${stored}-`]);
  });
});

describe('manifests read back', () => {
  it('refuses a damaged stored manifest with the field named, and lists only sound ones', async () => {
    const [store] = storePair();
    const url = server.setFile('sound.gguf', modelBytes(SIZE, 29));
    await download(store, url);
    const sound = (await store.getManifest(url))!;
    await store.putManifest({ ...sound, id: 'bad', size: '7' as unknown as number });
    await expect(store.getManifest('bad')).rejects.toThrow(
      /The stored record of model bad is damaged \(size: Invalid type: Expected number/,
    );
    await store.putManifest({ ...sound, id: 'short', chunks: sound.chunks.slice(1) });
    await expect(store.getManifest('short')).rejects.toThrow(/chunks: 6 listed for 7/);
    expect((await store.listManifests()).map((m) => m.id)).toEqual([url]);
  });

  it('lists a damaged manifest in Storage with what is wrong, and deletes it', async () => {
    const [store] = storePair();
    const url = server.setFile('kept.gguf', modelBytes(SIZE, 30));
    await download(store, url);
    const sound = (await store.getManifest(url))!;
    await store.putManifest({ ...sound, id: 'broken', chunks: 'x' as unknown as string[] });
    const state = new StorageState(new ModelLibrary(store, testEnv(), () => C));
    await state.refresh();
    expect(state.entries.map((e) => [e.id, e.state])).toEqual([
      [url, 'complete'],
      ['broken', 'damaged'],
    ]);
    expect(state.entries[1].source).toMatch(/damaged record \(chunks: Invalid type/);
    await state.remove('broken');
    expect(state.entries.map((e) => e.id)).toEqual([url]);
    expect(await store.getManifest(url)).toMatchObject({ state: 'complete' });
  });
});
