import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { modelBytes, sha256, startFixtureServer, type FixtureServer } from '../fixtures/server';
import { downloadModel, type DownloadOptions } from '../../src/store/download';
import { StoreError } from '../../src/store/errors';
import { ModelLibrary } from '../../src/store/models';
import type { ModelStore } from '../../src/store/model-store';
import { verifyModel } from '../../src/store/verify';
import { freshStore, readAll, recordingSink, testEnv, type TestEnv } from './store-env';

const C = 8192;
const SIZE = 10 * C + 500;
let server: FixtureServer;

beforeAll(async () => {
  server = await startFixtureServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.faults = {};
  server.requests.length = 0;
});

function download(
  store: ModelStore,
  env: TestEnv,
  options: Partial<DownloadOptions> & { url: string },
  sink = recordingSink(),
) {
  return downloadModel(
    store,
    env,
    { chunkBytes: C, backoffMs: 1, retries: 3, ...options },
    new AbortController().signal,
    sink,
  );
}

function ranges(path: string) {
  return server.requests.filter((r) => r.path === path && r.method === 'GET').map((r) => r.range);
}

describe('downloadModel', () => {
  it('stores the file in one Range request, verified against X-Linked-Etag, with chunk hashes', async () => {
    const bytes = modelBytes(SIZE, 1);
    const url = server.setFile('one.gguf', bytes);
    const store = freshStore();
    const env = testEnv();
    const sink = recordingSink();
    const m = await download(store, env, { url }, sink);
    expect(m.state).toBe('complete');
    expect(m.expectedSha256).toBe(sha256(bytes));
    expect(m.sha256).toBe(sha256(bytes));
    expect(m.etag).toBe(server.file('one.gguf').etag);
    expect(m.chunks[10]).toBe(sha256(bytes.subarray(10 * C)));
    expect(m.persisted).toBe(true);
    expect(sha256(await readAll(store, m.id, 11))).toBe(sha256(bytes));
    expect(ranges('/models/one.gguf')).toEqual(['bytes=0-']);
    expect(sink.last).toEqual({ loaded: SIZE, total: SIZE });
  });

  it('resumes after a failed session from the first missing chunk', async () => {
    const bytes = modelBytes(SIZE, 2);
    const url = server.setFile('resume.gguf', bytes);
    const store = freshStore();
    const env = testEnv();
    server.faults = { cutAfterBytes: 3 * C + 100, cutTimes: 10 };
    const error = await download(store, env, { url, retries: 0 }).catch((e) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error.code).toBe('network');
    expect(error.message).toMatch(/Gave up after 0 retries/);
    const partial = (await store.getManifest(url))!;
    expect(partial.state).toBe('partial');
    expect(partial.chunks.filter((c) => c !== null)).toHaveLength(3);
    server.faults = {};
    server.requests.length = 0;
    const m = await download(store, env, { url });
    expect(ranges('/models/resume.gguf')).toEqual([`bytes=${3 * C}-`]);
    expect(m.sha256).toBe(sha256(bytes));
    expect(sha256(await readAll(store, m.id, 11))).toBe(sha256(bytes));
  });

  it('retries a broken connection from the exact byte it reached', async () => {
    const bytes = modelBytes(SIZE, 3);
    const url = server.setFile('cut.gguf', bytes);
    const store = freshStore();
    server.faults = { cutAfterBytes: 5 * C + 1234, cutTimes: 1 };
    const sink = recordingSink();
    const m = await download(store, testEnv(), { url }, sink);
    expect(ranges('/models/cut.gguf')).toEqual(['bytes=0-', `bytes=${5 * C + 1234}-`]);
    expect(sink.statuses).toContain('retrying');
    expect(m.sha256).toBe(sha256(bytes));
    expect(sha256(await readAll(store, m.id, 11))).toBe(sha256(bytes));
  });

  it('downloads again after a flipped byte fails the file hash, and gives up if it happens twice', async () => {
    const bytes = modelBytes(SIZE, 4);
    const url = server.setFile('flip.gguf', bytes);
    const store = freshStore();
    server.faults = { flipOffset: 4 * C + 7, flipTimes: 1 };
    const m = await download(store, testEnv(), { url });
    expect(ranges('/models/flip.gguf')).toEqual(['bytes=0-', 'bytes=0-']);
    expect(m.sha256).toBe(sha256(bytes));
    expect(sha256(await readAll(store, m.id, 11))).toBe(sha256(bytes));

    const other = freshStore();
    server.faults = { flipOffset: 7, flipTimes: 2 };
    const error = await download(other, testEnv(), { url }).catch((e) => e);
    expect(error.code).toBe('hash-mismatch');
    expect(error.message).toMatch(/happened twice/);
    const left = (await other.getManifest(url))!;
    expect(left.state).toBe('partial');
    expect(left.chunks.every((c) => c === null)).toBe(true);
    expect(await other.chunkIndices(url)).toEqual([]);
  });

  it('checks a caller-provided SHA-256 when the host states none', async () => {
    const bytes = modelBytes(SIZE, 5);
    const url = server.setFile('nolink.gguf', bytes, { linkedEtag: false });
    const wrong = sha256(modelBytes(10, 1));
    const error = await download(freshStore(), testEnv(), { url, expectedSha256: wrong }).catch(
      (e) => e,
    );
    expect(error.code).toBe('hash-mismatch');
    expect(error.message).toContain(wrong);
    const m = await download(freshStore(), testEnv(), {
      url,
      expectedSha256: sha256(bytes).toUpperCase(),
    });
    expect(m.sha256).toBe(sha256(bytes));
  });

  it('starts over when the ETag changed between sessions, never mixing versions', async () => {
    const old = modelBytes(SIZE, 6);
    const url = server.setFile('etag.gguf', old);
    const store = freshStore();
    const env = testEnv();
    server.faults = { cutAfterBytes: 4 * C, cutTimes: 1 };
    await expect(download(store, env, { url, retries: 0 })).rejects.toMatchObject({
      code: 'network',
    });
    expect((await store.getManifest(url))!.chunks.filter((c) => c)).toHaveLength(4);
    const fresh = modelBytes(SIZE, 7);
    server.setFile('etag.gguf', fresh);
    server.requests.length = 0;
    const m = await download(store, env, { url });
    expect(ranges('/models/etag.gguf')).toEqual([`bytes=${4 * C}-`, 'bytes=0-']);
    expect(m.etag).toBe(server.file('etag.gguf').etag);
    expect(m.sha256).toBe(sha256(fresh));
    expect(sha256(await readAll(store, m.id, 11))).toBe(sha256(fresh));
  });

  it('keeps its chunks when only the ETag differs for a file the caller pinned by SHA-256', async () => {
    const bytes = modelBytes(SIZE, 20);
    const url = server.setFile('cdn.gguf', bytes, { linkedEtag: false, etag: '"edge-a"' });
    const store = freshStore();
    const env = testEnv();
    const pinned = sha256(bytes);
    server.faults = { cutAfterBytes: 5 * C, cutTimes: 1 };
    await expect(
      download(store, env, { url, retries: 0, expectedSha256: pinned }),
    ).rejects.toMatchObject({
      code: 'network',
    });
    server.setFile('cdn.gguf', bytes, { linkedEtag: false, etag: '"edge-b"' });
    server.requests.length = 0;
    // Resumed as after a reload: the SHA-256 comes from the manifest, not from the caller.
    const m = await download(store, env, { url });
    expect(ranges('/models/cdn.gguf')).toEqual([`bytes=${5 * C}-`]);
    expect(m.sha256).toBe(pinned);
  });

  it('starts over when the file shrank below the resume point (416)', async () => {
    const url = server.setFile('shrank.gguf', modelBytes(SIZE, 18));
    const store = freshStore();
    const env = testEnv();
    server.faults = { cutAfterBytes: 6 * C + 10, cutTimes: 1 };
    await expect(download(store, env, { url, retries: 0 })).rejects.toMatchObject({
      code: 'network',
    });
    const smaller = modelBytes(3 * C + 1, 19);
    server.setFile('shrank.gguf', smaller);
    server.requests.length = 0;
    const m = await download(store, env, { url });
    expect(server.requests.map((r) => [r.range, r.status])).toEqual([
      [`bytes=${6 * C}-`, 416],
      ['bytes=0-', 206],
    ]);
    expect(m.size).toBe(smaller.length);
    expect(sha256(await readAll(store, url, 4))).toBe(sha256(smaller));
    expect(await store.chunkIndices(url)).toEqual([0, 1, 2, 3]);
  });

  it('starts over from the 200 body when the server ignores Range on resume', async () => {
    const bytes = modelBytes(SIZE, 8);
    const url = server.setFile('norange.gguf', bytes);
    const store = freshStore();
    const env = testEnv();
    server.faults = { cutAfterBytes: 6 * C + 10, cutTimes: 1 };
    await expect(download(store, env, { url, retries: 0 })).rejects.toMatchObject({
      code: 'network',
    });
    server.faults = { ignoreRange: true };
    server.requests.length = 0;
    const written: number[] = [];
    const putChunk = store.putChunk.bind(store);
    store.putChunk = (id, index, chunk) => {
      written.push(index);
      return putChunk(id, index, chunk);
    };
    const m = await download(store, env, { url });
    expect(server.requests.map((r) => [r.range, r.status])).toEqual([[`bytes=${6 * C}-`, 200]]);
    expect(written).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(sha256(await readAll(store, m.id, 11))).toBe(sha256(bytes));
  });

  it('refuses up front with the numbers when the quota cannot hold the file, storing nothing', async () => {
    const url = server.setFile('quota.gguf', modelBytes(SIZE, 9));
    const store = freshStore();
    const env = testEnv(SIZE, 1000);
    const error = await download(store, env, { url }).catch((e) => e);
    expect(error.code).toBe('quota');
    expect(error.message).toMatch(
      /quota\.gguf needs 80\.5 KiB more, but only 79\.5 KiB of the 80\.5 KiB this site may use is free/,
    );
    expect(await store.listManifests()).toEqual([]);
    expect(env.persistAsked).toBe(0);
  });

  it('stops cleanly when the browser refuses a write, keeping chunks and other models, then resumes', async () => {
    const keep = modelBytes(3 * C, 10);
    const keepUrl = server.setFile('keep.gguf', keep);
    const bytes = modelBytes(SIZE, 11);
    const url = server.setFile('full.gguf', bytes);
    const store = freshStore();
    const env = testEnv();
    await download(store, env, { url: keepUrl });
    const putChunk = store.putChunk.bind(store);
    store.putChunk = (id, index, chunk) =>
      index >= 5
        ? Promise.reject(new DOMException('quota', 'QuotaExceededError'))
        : putChunk(id, index, chunk);
    const error = await download(store, env, { url }).catch((e) => e);
    expect(error.code).toBe('storage-full');
    expect(error.message).toMatch(
      /after 40 KiB of 80\.5 KiB of full\.gguf\. What was stored is kept/,
    );
    const partial = (await store.getManifest(url))!;
    expect(partial.chunks.map((c) => c !== null)).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(sha256(await readAll(store, keepUrl, 3))).toBe(sha256(keep));
    expect((await store.getManifest(keepUrl))!.state).toBe('complete');
    store.putChunk = putChunk;
    server.requests.length = 0;
    const m = await download(store, env, { url });
    expect(ranges('/models/full.gguf')).toEqual([`bytes=${5 * C}-`]);
    expect(m.sha256).toBe(sha256(bytes));
  });

  it('re-downloads only a chunk found damaged at rest', async () => {
    const bytes = modelBytes(SIZE, 12);
    const url = server.setFile('heal.gguf', bytes);
    const store = freshStore();
    const env = testEnv();
    await download(store, env, { url });
    const bad = (await store.getChunk(url, 7)).slice();
    bad[9] ^= 4;
    await store.putChunk(url, 7, bad);
    const report = await verifyModel(
      store,
      env,
      url,
      new AbortController().signal,
      recordingSink(),
    );
    expect(report.damaged).toEqual([7]);
    server.requests.length = 0;
    const m = await download(store, env, { url });
    expect(ranges('/models/heal.gguf')).toEqual([`bytes=${7 * C}-${8 * C - 1}`]);
    expect(m.state).toBe('complete');
    expect(sha256(await readAll(store, url, 11))).toBe(sha256(bytes));
  });

  it('says what went wrong for a missing file and retries a busy server', async () => {
    const store = freshStore();
    const missing = await download(store, testEnv(), {
      url: `${server.url}/models/nope.gguf`,
    }).catch((e) => e);
    expect(missing.code).toBe('http');
    expect(missing.message).toMatch(/answered 404 .* Check the URL/);
    const bytes = modelBytes(SIZE, 13);
    const url = server.setFile('busy.gguf', bytes);
    server.faults = { status: 503, statusTimes: 2 };
    const m = await download(store, testEnv(), { url });
    expect(
      server.requests.filter((r) => r.path === '/models/busy.gguf').map((r) => r.status),
    ).toEqual([503, 503, 206]);
    expect(m.sha256).toBe(sha256(bytes));
  });

  it('waits for the connection to come back instead of spending retries while offline', async () => {
    const bytes = modelBytes(SIZE, 14);
    const url = server.setFile('offline.gguf', bytes);
    const env = testEnv();
    let online = false;
    let backOnline = () => {};
    env.onLine = () => online;
    env.waitOnline = () => new Promise((resolve) => (backOnline = resolve));
    server.faults = { cutAfterBytes: 2 * C, cutTimes: 5 };
    const sink = recordingSink();
    const done = download(freshStore(), env, { url, retries: 0 }, sink);
    await new Promise((r) => setTimeout(r, 100));
    expect(sink.statuses).toEqual(['offline']);
    server.faults = {};
    online = true;
    backOnline();
    const m = await done;
    expect(m.sha256).toBe(sha256(bytes));
  });

  it('refuses a server that answers a different range than the one asked for', async () => {
    const body = modelBytes(100, 17);
    const fetchWrongRange: typeof fetch = async () =>
      new Response(body as Uint8Array<ArrayBuffer>, {
        status: 206,
        headers: { 'Content-Range': 'bytes 50-149/1000', ETag: '"x"' },
      });
    const store = freshStore();
    const error = await download(store, testEnv(), {
      url: 'http://127.0.0.1:9/models/odd.gguf',
      fetch: fetchWrongRange,
    }).catch((e) => e);
    expect(error.code).toBe('bad-input');
    expect(error.message).toMatch(/sent bytes from 50 when asked for bytes from 0/);
    expect(await store.listManifests()).toEqual([]);
  });

  it('lets one download of a model run at a time', async () => {
    const url = server.setFile('lock.gguf', modelBytes(SIZE, 15));
    const store = freshStore();
    const env = testEnv();
    server.faults = { bytesPerSecond: 400_000 };
    const first = download(store, env, { url });
    const second = await download(store, env, { url }).catch((e) => e);
    expect(second.code).toBe('busy');
    expect(second.message).toMatch(/another tab/);
    expect((await first).state).toBe('complete');
  });
});

describe('ModelLibrary transfers', () => {
  it('pauses, resumes from the store, and cancels by deleting what was stored', async () => {
    const bytes = modelBytes(SIZE, 16);
    const url = server.setFile('pause.gguf', bytes);
    const library = new ModelLibrary(freshStore(), testEnv(), () => C);
    server.faults = { bytesPerSecond: 200_000 };
    const transfer = library.download({ url, backoffMs: 1 });
    const running = transfer.run();
    await new Promise((r) => setTimeout(r, 150));
    transfer.pause();
    expect(await running).toEqual({ kind: 'paused' });
    expect(transfer.progress.status).toBe('paused');
    const stored = (await library.store.getManifest(url))!.chunks.filter((c) => c).length;
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(11);
    server.faults = {};
    server.requests.length = 0;
    const outcome = await transfer.run();
    expect(outcome.kind).toBe('complete');
    expect(ranges('/models/pause.gguf')).toEqual([`bytes=${stored * C}-`]);
    expect(transfer.progress).toMatchObject({ status: 'complete', loaded: SIZE, total: SIZE });

    const other = library.download({ url: server.setFile('cancel.gguf', bytes) });
    server.faults = { bytesPerSecond: 200_000 };
    const run = other.run();
    await new Promise((r) => setTimeout(r, 150));
    await other.cancel();
    expect(await run).toEqual({ kind: 'cancelled' });
    expect((await library.list()).map((m) => m.name)).toEqual(['pause.gguf']);
    expect(await library.store.chunkIndices(other.id)).toEqual([]);
  });
});
