// Chunk size of newly stored models. 16 MiB: a 5 GB model is ~300 records (few transactions, few
// keys to list), a reload loses at most 16 MiB of a download, hashing one chunk with SubtleCrypto
// takes tens of milliseconds, and a reader holding its two most recent chunks keeps 32 MiB, not
// the 128 MiB that 64 MiB chunks would cost on a phone. Each manifest records its own chunk size,
// so changing this never touches models already stored.
export const DEFAULT_CHUNK_BYTES = 16 * 1024 * 1024;

/**
 * Test setting: the end-to-end tests store a few-MB file in many chunks by writing a byte count
 * to this localStorage key before starting a download or import. Used only for new models.
 */
export const CHUNK_BYTES_SETTING = 'layerwise:store-chunk-bytes';

/** Smallest accepted chunk: a multiple of SHA-256's 64-byte block keeps hash states resumable. */
export const MIN_CHUNK_BYTES = 4096;
export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;

export function validChunkBytes(bytes: number): boolean {
  return (
    Number.isInteger(bytes) &&
    bytes >= MIN_CHUNK_BYTES &&
    bytes <= MAX_CHUNK_BYTES &&
    bytes % 64 === 0
  );
}

export function configuredChunkBytes(): number {
  const raw = globalThis.localStorage?.getItem(CHUNK_BYTES_SETTING);
  if (raw === null || raw === undefined) return DEFAULT_CHUNK_BYTES;
  const bytes = Number(raw);
  if (!validChunkBytes(bytes)) {
    throw new RangeError(
      `localStorage ${CHUNK_BYTES_SETTING}=${raw} is not a chunk size: use a multiple of 64 ` +
        `between ${MIN_CHUNK_BYTES} and ${MAX_CHUNK_BYTES}, or remove the key.`,
    );
  }
  return bytes;
}
