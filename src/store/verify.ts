// Integrity at rest: re-hashes every stored chunk and compares it with the manifest. A damaged
// chunk is marked so a download fetches it alone again (URL source) or a re-import replaces it.
import { StoreError } from './errors';
import { sha256Hex } from './hash';
import { chunkSpan, type ModelManifest } from './manifest';
import type { ModelStore } from './model-store';
import { lockName, type StorageEnv } from './quota';
import type { ProgressSink } from './transfer';

export interface VerifyReport {
  manifest: ModelManifest;
  checked: number;
  damaged: number[];
}

export async function verifyModel(
  store: ModelStore,
  env: StorageEnv,
  id: string,
  signal: AbortSignal,
  sink: ProgressSink,
): Promise<VerifyReport> {
  return env.withLock(lockName(id), async () => {
    const manifest = await store.getManifest(id);
    if (!manifest) throw new StoreError('missing', `No stored model ${id}.`);
    // "Verifying" is reported, never stored: a reload in the middle must not leave it behind.
    sink.status('verifying');
    const damaged = new Set(manifest.damagedChunks);
    let checked = 0;
    try {
      for (let index = 0; index < manifest.chunks.length; index++) {
        signal.throwIfAborted();
        const expected = manifest.chunks[index];
        if (expected === null) continue;
        const bytes = await store.getChunk(id, index).catch(() => null);
        const { start, end } = chunkSpan(manifest, index);
        if (!bytes || bytes.length !== end - start || (await sha256Hex(bytes)) !== expected) {
          damaged.add(index);
        }
        checked++;
        sink.bytes(end, manifest.size);
      }
    } finally {
      manifest.damagedChunks = [...damaged].sort((a, b) => a - b);
      const whole = manifest.chunks.every((hash) => hash !== null) && damaged.size === 0;
      manifest.state = whole && manifest.sha256 !== null ? 'complete' : 'partial';
      await store.putManifest(manifest);
    }
    return { manifest, checked, damaged: manifest.damagedChunks };
  });
}

/** Marks one chunk damaged (found by a reader) so the Storage view offers to repair it. */
export async function markDamaged(store: ModelStore, id: string, index: number): Promise<void> {
  const manifest = await store.getManifest(id);
  if (!manifest || manifest.damagedChunks.includes(index)) return;
  manifest.damagedChunks = [...manifest.damagedChunks, index].sort((a, b) => a - b);
  manifest.state = 'partial';
  await store.putManifest(manifest);
}
