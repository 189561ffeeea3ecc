import { describe, expect, it } from 'vitest';
import { modelBytes, sha256 } from '../fixtures/server';
import { StoreError } from '../../src/store/errors';
import { importFile } from '../../src/store/import';
import {
  chunkSpan,
  missingRuns,
  needsChunk,
  newManifest,
  storedBytes,
} from '../../src/store/manifest';
import { StoreModelSource } from '../../src/store/model-source';
import { RateMeter, Transfer, type TransferProgress } from '../../src/store/transfer';
import { verifyModel } from '../../src/store/verify';
import { freshStore, readAll, recordingSink, testEnv } from './store-env';

const C = 4096;

function namedBlob(bytes: Uint8Array, name: string) {
  return Object.assign(new Blob([bytes as Uint8Array<ArrayBuffer>]), { name, lastModified: 1 });
}

describe('manifest arithmetic', () => {
  it('cuts a file into chunks and finds the runs still needed', () => {
    const m = newManifest({
      id: 'm',
      source: { kind: 'url', url: 'https://x/m.gguf' },
      name: 'm.gguf',
      size: 5 * C + 10,
      chunkBytes: C,
    });
    expect(m.chunks).toHaveLength(6);
    expect(chunkSpan(m, 5)).toEqual({ start: 5 * C, end: 5 * C + 10 });
    expect(missingRuns(m)).toEqual([[0, 6]]);
    m.chunks[0] = 'a';
    m.chunks[1] = 'b';
    m.chunks[3] = 'd';
    m.chunks[5] = 'f';
    expect(missingRuns(m)).toEqual([
      [2, 3],
      [4, 5],
    ]);
    expect(storedBytes(m)).toBe(3 * C + 10);
    m.damagedChunks = [1];
    expect(needsChunk(m, 1)).toBe(true);
    expect(missingRuns(m)).toEqual([
      [1, 3],
      [4, 5],
    ]);
    expect(storedBytes(m)).toBe(2 * C + 10);
  });
});

describe('ModelStore', () => {
  it('deletes one model without touching another, and sweeps chunks left without a manifest', async () => {
    const store = freshStore();
    const env = testEnv();
    const a = modelBytes(3 * C + 1, 1);
    const b = modelBytes(2 * C, 2);
    await importFile(
      store,
      env,
      namedBlob(a, 'a.gguf'),
      { chunkBytes: C },
      new AbortController().signal,
      recordingSink(),
    );
    const mb = await importFile(
      store,
      env,
      namedBlob(b, 'b.gguf'),
      { chunkBytes: C },
      new AbortController().signal,
      recordingSink(),
    );
    await store.deleteModel('file:a.gguf:' + a.length);
    expect(await store.getManifest('file:a.gguf:' + a.length)).toBeUndefined();
    expect(await store.chunkIndices('file:a.gguf:' + a.length)).toEqual([]);
    expect(sha256(await readAll(store, mb.id, 2))).toBe(sha256(b));
    await store.putChunk('orphan', 0, new Uint8Array([1, 2, 3]));
    expect(await store.sweepOrphans()).toBe(1);
    expect(await store.chunkIndices('orphan')).toEqual([]);
    expect(await store.chunkIndices(mb.id)).toEqual([0, 1]);
  });
});

describe('import', () => {
  it('stores a file chunk by chunk with per-chunk and whole-file SHA-256', async () => {
    const store = freshStore();
    const env = testEnv();
    const bytes = modelBytes(7 * C + 123, 3);
    const sink = recordingSink();
    const m = await importFile(
      store,
      env,
      namedBlob(bytes, 'x.gguf'),
      { chunkBytes: C, expectedSha256: sha256(bytes) },
      new AbortController().signal,
      sink,
    );
    expect(m.state).toBe('complete');
    expect(m.sha256).toBe(sha256(bytes));
    expect(m.persisted).toBe(true);
    for (let i = 0; i < 8; i++) {
      const { start, end } = chunkSpan(m, i);
      expect(m.chunks[i]).toBe(sha256(bytes.subarray(start, end)));
    }
    expect(sha256(await readAll(store, m.id, 8))).toBe(sha256(bytes));
    expect(sink.last).toEqual({ loaded: bytes.length, total: bytes.length });
  });

  it('refuses a file that is not .gguf and a file whose SHA-256 is not the expected one', async () => {
    const store = freshStore();
    const env = testEnv();
    const bytes = modelBytes(2 * C, 4);
    const signal = new AbortController().signal;
    await expect(
      importFile(store, env, namedBlob(bytes, 'x.bin'), { chunkBytes: C }, signal, recordingSink()),
    ).rejects.toThrow(/not a \.gguf/);
    await expect(
      importFile(
        store,
        env,
        namedBlob(bytes, 'y.gguf'),
        { chunkBytes: C, expectedSha256: sha256(new Uint8Array(1)) },
        signal,
        recordingSink(),
      ),
    ).rejects.toMatchObject({
      code: 'hash-mismatch',
      message: expect.stringMatching(/import was discarded/),
    });
    expect(await store.listManifests()).toEqual([]);
    expect(await store.chunkIndices(`file:y.gguf:${bytes.length}`)).toEqual([]);
  });

  it('refuses up front with the numbers when the file does not fit the quota, storing nothing', async () => {
    const store = freshStore();
    const env = testEnv(3 * C, C);
    const bytes = modelBytes(3 * C, 5);
    const error = await importFile(
      store,
      env,
      namedBlob(bytes, 'big.gguf'),
      { chunkBytes: C },
      new AbortController().signal,
      recordingSink(),
    ).catch((e) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error.code).toBe('quota');
    expect(error.message).toMatch(/needs 12 KiB more, but only 8 KiB of the 12 KiB/);
    expect(await store.listManifests()).toEqual([]);
  });

  it('reports a chunk damaged at rest and replaces only that chunk on re-import', async () => {
    const store = freshStore();
    const env = testEnv();
    const bytes = modelBytes(5 * C, 6);
    const file = namedBlob(bytes, 'd.gguf');
    const signal = new AbortController().signal;
    const m = await importFile(store, env, file, { chunkBytes: C }, signal, recordingSink());
    const bad = (await store.getChunk(m.id, 3)).slice();
    bad[100] ^= 1;
    await store.putChunk(m.id, 3, bad);
    const report = await verifyModel(store, env, m.id, signal, recordingSink());
    expect(report.damaged).toEqual([3]);
    expect(report.manifest.state).toBe('partial');
    await expect(StoreModelSource.open(store, m.id)).rejects.toMatchObject({ code: 'missing' });
    const written: number[] = [];
    const putChunk = store.putChunk.bind(store);
    store.putChunk = (id, index, chunk) => {
      written.push(index);
      return putChunk(id, index, chunk);
    };
    const again = await importFile(store, env, file, { chunkBytes: C }, signal, recordingSink());
    expect(written).toEqual([3]);
    expect(again.state).toBe('complete');
    expect(again.damagedChunks).toEqual([]);
    expect(sha256(await readAll(store, m.id, 5))).toBe(sha256(bytes));
    expect((await verifyModel(store, env, m.id, signal, recordingSink())).damaged).toEqual([]);
  });
});

describe('StoreModelSource', () => {
  it('reads any range equal to the source bytes, fetching only the chunks under it', async () => {
    const store = freshStore();
    const bytes = modelBytes(9 * C + 77, 7);
    const m = await importFile(
      store,
      testEnv(),
      namedBlob(bytes, 's.gguf'),
      { chunkBytes: C },
      new AbortController().signal,
      recordingSink(),
    );
    let reads = 0;
    const getChunk = store.getChunk.bind(store);
    store.getChunk = (id, index) => {
      reads++;
      return getChunk(id, index);
    };
    const source = await StoreModelSource.open(store, m.id);
    expect(source.size).toBe(bytes.length);
    const rng = modelBytes(400, 8);
    for (let i = 0; i < 100; i++) {
      const offset = ((rng[i * 4] << 8) | rng[i * 4 + 1]) % bytes.length;
      const length = Math.min(
        bytes.length - offset,
        ((rng[i * 4 + 2] << 8) | rng[i * 4 + 3]) % (2 * C),
      );
      const got = await source.read(offset, length);
      expect(sha256(got), `read ${length} at ${offset}`).toBe(
        sha256(bytes.subarray(offset, offset + length)),
      );
    }
    const plain = await StoreModelSource.open(store, m.id, { readAhead: false });
    reads = 0;
    await plain.read(C - 10, 20);
    await plain.read(C - 5, 10);
    await plain.read(C + 5, 10);
    expect(reads).toBe(2);
    // Reading the file in order with read-ahead fetches each chunk exactly once.
    const ahead = await StoreModelSource.open(store, m.id);
    reads = 0;
    for (let offset = 0; offset < bytes.length; offset += 3000) {
      await ahead.read(offset, Math.min(3000, bytes.length - offset));
    }
    expect(reads).toBe(10);
    await expect(source.read(bytes.length - 1, 2)).rejects.toThrow(RangeError);
    expect((await store.getManifest(m.id))!.lastUsed).not.toBeNull();
  });

  it('refuses a chunk whose bytes changed on disk and marks it damaged', async () => {
    const store = freshStore();
    const bytes = modelBytes(3 * C, 9);
    const m = await importFile(
      store,
      testEnv(),
      namedBlob(bytes, 'v.gguf'),
      { chunkBytes: C },
      new AbortController().signal,
      recordingSink(),
    );
    const bad = (await store.getChunk(m.id, 1)).slice();
    bad[0] ^= 0x80;
    await store.putChunk(m.id, 1, bad);
    const source = await StoreModelSource.open(store, m.id);
    expect(sha256(await source.read(0, C))).toBe(sha256(bytes.subarray(0, C)));
    await expect(source.read(C + 1, 4)).rejects.toMatchObject({ code: 'damaged' });
    expect((await store.getManifest(m.id))!.damagedChunks).toEqual([1]);
  });
});

describe('Transfer progress', () => {
  it('computes the rate over the recent window and the ETA from it', async () => {
    const meter = new RateMeter(5000);
    meter.add(0, 0);
    meter.add(1000, 1_000_000);
    meter.add(2000, 3_000_000);
    expect(meter.bytesPerSecond()).toBe(1_500_000);
    meter.add(9000, 3_000_000);
    expect(meter.bytesPerSecond()).toBe(0);

    let now = 0;
    const seen: TransferProgress[] = [];
    let release = () => {};
    const transfer = new Transfer(
      'id',
      'model.gguf',
      async (_signal, sink) => {
        sink.bytes(0, 10_000);
        now = 2000;
        sink.bytes(4000, 10_000);
        await new Promise<void>((resolve) => (release = resolve));
        throw new Error('the disk went away');
      },
      async () => {},
      (p) => seen.push(p),
      undefined,
      () => now,
    );
    const run = transfer.run();
    await new Promise((r) => setTimeout(r, 10));
    expect(transfer.progress).toMatchObject({
      status: 'running',
      loaded: 4000,
      total: 10_000,
      bytesPerSecond: 2000,
      etaSeconds: 3,
    });
    release();
    await expect(run).rejects.toThrow('the disk went away');
    expect(transfer.progress).toMatchObject({ status: 'error', message: 'the disk went away' });
    expect(seen.map((p) => p.status)).toContain('running');
  });
});
