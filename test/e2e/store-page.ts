// Page-side helpers for the store's browser tests. They read IndexedDB directly, not through
// src/store, so what they report is an independent account of what was stored.
import type { Page } from 'playwright-core';

export const CHUNK_BYTES_SETTING = 'layerwise:store-chunk-bytes';

export interface StoredCopy {
  state: string | null;
  chunks: number;
  length: number;
  sha256: string | null;
}

/** The manifest's state, the number of stored chunks and the SHA-256 of their bytes in order. */
export function readStoredModel(page: Page, id: string): Promise<StoredCopy> {
  return page.evaluate(async (modelId) => {
    const open = (name: string) =>
      new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open(name);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
    const read = <T>(
      db: IDBDatabase,
      store: string,
      query: IDBValidKey | IDBKeyRange,
      all: boolean,
    ) =>
      new Promise<T>((resolve, reject) => {
        if (!db.objectStoreNames.contains(store)) return resolve((all ? [] : undefined) as T);
        const os = db.transaction(store).objectStore(store);
        const request = all ? os.getAll(query) : os.get(query);
        request.onsuccess = () => resolve(request.result as T);
        request.onerror = () => reject(request.error);
      });
    const models = await open('layerwise-models');
    const manifest = await read<{ state: string } | undefined>(models, 'manifests', modelId, false);
    models.close();
    const chunksDb = await open('layerwise-chunks');
    const chunks = await read<Uint8Array[]>(
      chunksDb,
      'chunks',
      IDBKeyRange.bound([modelId, 0], [modelId, Infinity]),
      true,
    );
    chunksDb.close();
    const length = chunks.reduce((n, c) => n + c.length, 0);
    const all = new Uint8Array(length);
    let offset = 0;
    for (const chunk of chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    return {
      state: manifest?.state ?? null,
      chunks: chunks.length,
      length,
      sha256: chunks.length ? hex : null,
    };
  }, id);
}

/** Stored chunks of a model, counted from the manifest (what a resume starts from). */
export function manifestChunks(page: Page, id: string): Promise<number> {
  return page.evaluate(
    (modelId) =>
      new Promise<number>((resolve, reject) => {
        const request = indexedDB.open('layerwise-models');
        request.onerror = () => reject(request.error);
        request.onsuccess = () => {
          const db = request.result;
          if (!db.objectStoreNames.contains('manifests')) return resolve(0);
          const get = db.transaction('manifests').objectStore('manifests').get(modelId);
          get.onsuccess = () => {
            db.close();
            const chunks = (get.result?.chunks ?? []) as (string | null)[];
            resolve(chunks.filter((c) => c !== null).length);
          };
          get.onerror = () => reject(get.error);
        };
      }),
    id,
  );
}

/** Writes a record the way the conversation store keeps it, and reads it back as JSON. */
export function putRecord(page: Page, db: string, store: string, key: string, value: unknown) {
  return page.evaluate(
    ([dbName, storeName, k, v]) =>
      new Promise<void>((resolve, reject) => {
        const request = indexedDB.open(dbName as string);
        request.onupgradeneeded = () => request.result.createObjectStore(storeName as string);
        request.onerror = () => reject(request.error);
        request.onsuccess = () => {
          const tx = request.result.transaction(storeName as string, 'readwrite');
          tx.objectStore(storeName as string).put(v, k as string);
          tx.oncomplete = () => {
            request.result.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    [db, store, key, value] as const,
  );
}

export function getRecord(page: Page, db: string, store: string, key: string): Promise<string> {
  return page.evaluate(
    ([dbName, storeName, k]) =>
      new Promise<string>((resolve, reject) => {
        const request = indexedDB.open(dbName);
        request.onerror = () => reject(request.error);
        request.onsuccess = () => {
          const get = request.result.transaction(storeName).objectStore(storeName).get(k);
          get.onsuccess = () => {
            request.result.close();
            resolve(JSON.stringify(get.result));
          };
          get.onerror = () => reject(get.error);
        };
      }),
    [db, store, key] as const,
  );
}
