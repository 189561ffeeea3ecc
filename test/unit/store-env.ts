// Test doubles for the model store: a fresh pair of fake-indexeddb databases per test, a storage
// environment with a settable quota, and a progress sink that records what it was told.
import 'fake-indexeddb/auto';
import { createStore } from 'idb-keyval';
import { ModelStore } from '../../src/store/model-store';
import { browserEnv, type StorageEnv } from '../../src/store/quota';
import type { ProgressSink, TransferStatus } from '../../src/store/transfer';

let databases = 0;

export function freshStore(): ModelStore {
  databases++;
  return new ModelStore(
    createStore(`test-models-${databases}`, 'manifests'),
    createStore(`test-chunks-${databases}`, 'chunks'),
  );
}

export interface TestEnv extends StorageEnv {
  quota: number;
  usage: number;
  persistAsked: number;
}

/** Node's lock-less fallback (one process) with an estimate the test controls. */
export function testEnv(quota = 1e12, usage = 0): TestEnv {
  const base = browserEnv();
  const env: TestEnv = {
    ...base,
    quota,
    usage,
    persistAsked: 0,
    async estimate() {
      return { usage: env.usage, quota: env.quota };
    },
    async persist() {
      env.persistAsked++;
      return true;
    },
    async persisted() {
      return env.persistAsked > 0;
    },
  };
  return env;
}

export interface RecordingSink extends ProgressSink {
  statuses: TransferStatus[];
  last: { loaded: number; total: number };
}

export function recordingSink(): RecordingSink {
  const sink: RecordingSink = {
    statuses: [],
    last: { loaded: 0, total: 0 },
    bytes(loaded, total) {
      sink.last = { loaded, total };
    },
    status(status) {
      sink.statuses.push(status);
    },
  };
  return sink;
}

export async function readAll(store: ModelStore, id: string, chunks: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < chunks; i++) parts.push(await store.getChunk(id, i));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
