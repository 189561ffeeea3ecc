// IndexedDB layout of stored models, through idb-keyval custom stores: one database of manifests
// keyed by model id, one of chunks keyed by [model id, chunk index]. A chunk is written before the
// manifest that lists it, so a crash between the two leaves an unlisted chunk (written again on
// resume, or swept), never a listed chunk that is missing.
import {
  createStore,
  del,
  entries,
  get,
  keys,
  promisifyRequest,
  set,
  update,
  values,
  type UseStore,
} from 'idb-keyval';
import { StoreError } from './errors';
import { settledState, type ModelManifest } from './manifest';
import { checkManifest } from './manifest-schema';

type ChunkKey = [string, number];

export class ModelStore {
  constructor(
    private readonly manifests: UseStore = createStore('layerwise-models', 'manifests'),
    private readonly chunks: UseStore = createStore('layerwise-chunks', 'chunks'),
  ) {}

  /** The manifest, checked; a damaged record is refused with the field named. */
  async getManifest(id: string): Promise<ModelManifest | undefined> {
    const raw = await get<unknown>(id, this.manifests);
    if (raw === undefined) return undefined;
    const checked = checkManifest(raw);
    if ('problem' in checked) {
      throw new StoreError(
        'damaged',
        `The stored record of model ${id} is damaged (${checked.problem}). Delete it in Storage ` +
          'and store the model again.',
      );
    }
    return settled(checked.manifest);
  }

  putManifest(manifest: ModelManifest): Promise<void> {
    return set(manifest.id, manifest, this.manifests);
  }

  async listManifests(): Promise<ModelManifest[]> {
    // Records that fail the check are left out of the list (and kept, with their chunks).
    const all = (await values<unknown>(this.manifests)).flatMap((raw) => {
      const checked = checkManifest(raw);
      return 'manifest' in checked ? [settled(checked.manifest)] : [];
    });
    return all.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Manifest records that fail the check, with the field that is wrong: listed so they can be deleted. */
  async damagedRecords(): Promise<{ id: string; problem: string }[]> {
    const all = await entries<IDBValidKey, unknown>(this.manifests);
    return all.flatMap(([id, raw]) => {
      const checked = checkManifest(raw);
      return 'problem' in checked ? [{ id: String(id), problem: checked.problem }] : [];
    });
  }

  /** Records that the model was used now, without racing a writer of other fields. */
  touch(id: string, now = Date.now()): Promise<void> {
    return update<ModelManifest | undefined>(
      id,
      (manifest) => manifest && { ...manifest, lastUsed: now },
      this.manifests,
    );
  }

  putChunk(id: string, index: number, bytes: Uint8Array): Promise<void> {
    const exact =
      bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
        ? bytes
        : bytes.slice();
    return set([id, index] satisfies ChunkKey, exact, this.chunks);
  }

  async getChunk(id: string, index: number): Promise<Uint8Array> {
    const bytes = await get<Uint8Array>([id, index] satisfies ChunkKey, this.chunks);
    if (!bytes) {
      throw new StoreError(
        'damaged',
        `Chunk ${index} of ${id} is missing from the store. Verify the model in Storage to repair it.`,
      );
    }
    return bytes;
  }

  /** Deletes every chunk of the model, keeping its manifest. */
  deleteChunks(id: string): Promise<void> {
    return this.chunks('readwrite', (store) =>
      promisifyRequest(store.delete(IDBKeyRange.bound([id, 0], [id, Infinity]))),
    );
  }

  /** The manifest goes first, so an interrupted delete leaves only unlisted chunks (swept later). */
  async deleteModel(id: string): Promise<void> {
    await del(id, this.manifests);
    await this.deleteChunks(id);
  }

  /** Deletes chunks that belong to no manifest (left by a delete that was interrupted). */
  async sweepOrphans(): Promise<number> {
    const ids = new Set((await keys<string>(this.manifests)).map(String));
    const orphans = new Set<string>();
    for (const [id] of await keys<ChunkKey>(this.chunks)) if (!ids.has(id)) orphans.add(id);
    for (const id of orphans) await this.deleteChunks(id);
    return orphans.size;
  }

  /** Stored chunk indices of a model, read from the keys alone. */
  async chunkIndices(id: string): Promise<number[]> {
    const range = IDBKeyRange.bound([id, 0], [id, Infinity]);
    const found = await this.chunks('readonly', (store) =>
      promisifyRequest(store.getAllKeys(range)),
    );
    return (found as ChunkKey[]).map(([, index]) => index);
  }
}

function settled(manifest: ModelManifest): ModelManifest {
  return { ...manifest, state: settledState(manifest) };
}
