// One manifest per stored model: where its bytes came from, how they are cut into chunks, the
// SHA-256 of every stored chunk, and what the model is. Pure data and arithmetic, no I/O.
import { Sha256, type Sha256State } from './hash';

export type ModelSourceRef =
  { kind: 'url'; url: string } | { kind: 'file'; name: string; lastModified: number };

/**
 * `partial`: some chunks are missing; `verifying`: written by older versions while chunk hashes
 * were checked, and read back as what the chunks say (`settledState`).
 */
export type ModelState = 'partial' | 'complete' | 'verifying';

/**
 * What the caller knows about the model (GGUF architecture, parameter count, file type ...).
 * A plain object so the store never depends on the engine's parser.
 */
export type HeaderSummary = Record<string, string | number | boolean>;

export interface ModelManifest {
  id: string;
  source: ModelSourceRef;
  /** Display name: the file name. */
  name: string;
  size: number;
  /** Validators of the server's copy; a resumed download must see the same ones. */
  etag: string | null;
  lastModified: string | null;
  chunkBytes: number;
  /** SHA-256 (hex) of each stored chunk; null where the chunk is not stored (yet). */
  chunks: (string | null)[];
  state: ModelState;
  /** The whole file's SHA-256 as the host or the caller stated it, checked once complete. */
  expectedSha256: string | null;
  /** The whole file's SHA-256 as computed from the stored bytes, once complete. */
  sha256: string | null;
  /** Hash of the file's first `hashState.bytes` bytes, so a resumed download continues it. */
  hashState: Sha256State;
  /** Chunks of an imported file whose bytes no longer match their hash: re-import the file. */
  damagedChunks: number[];
  header: HeaderSummary | null;
  createdAt: number;
  lastUsed: number | null;
  /** Result of `navigator.storage.persist()` asked when this model was first stored. */
  persisted: boolean | null;
}

export function chunkCount(size: number, chunkBytes: number): number {
  return Math.ceil(size / chunkBytes);
}

/** Byte range [start, end) of chunk `index`. */
export function chunkSpan(manifest: Pick<ModelManifest, 'size' | 'chunkBytes'>, index: number) {
  const start = index * manifest.chunkBytes;
  return { start, end: Math.min(start + manifest.chunkBytes, manifest.size) };
}

/** Bytes of the chunks that are stored and sound. */
export function storedBytes(manifest: ModelManifest): number {
  let bytes = 0;
  manifest.chunks.forEach((_, index) => {
    if (!needsChunk(manifest, index)) {
      const { start, end } = chunkSpan(manifest, index);
      bytes += end - start;
    }
  });
  return bytes;
}

/** A chunk to fetch or import: never stored, or stored and found damaged. */
export function needsChunk(manifest: ModelManifest, index: number): boolean {
  return manifest.chunks[index] === null || manifest.damagedChunks.includes(index);
}

/** Runs of consecutive needed chunks as [first, last+1), in file order: one request each. */
export function missingRuns(manifest: ModelManifest): [number, number][] {
  const runs: [number, number][] = [];
  manifest.chunks.forEach((_, index) => {
    if (!needsChunk(manifest, index)) return;
    const last = runs[runs.length - 1];
    if (last && last[1] === index) last[1] = index + 1;
    else runs.push([index, index + 1]);
  });
  return runs;
}

export function newManifest(fields: {
  id: string;
  source: ModelSourceRef;
  name: string;
  size: number;
  chunkBytes: number;
  etag?: string | null;
  lastModified?: string | null;
  expectedSha256?: string | null;
  header?: HeaderSummary | null;
  now?: number;
}): ModelManifest {
  return {
    id: fields.id,
    source: fields.source,
    name: fields.name,
    size: fields.size,
    etag: fields.etag ?? null,
    lastModified: fields.lastModified ?? null,
    chunkBytes: fields.chunkBytes,
    chunks: new Array<string | null>(chunkCount(fields.size, fields.chunkBytes)).fill(null),
    state: 'partial',
    expectedSha256: fields.expectedSha256?.toLowerCase() ?? null,
    sha256: null,
    hashState: new Sha256().save(),
    damagedChunks: [],
    header: fields.header ?? null,
    createdAt: fields.now ?? Date.now(),
    lastUsed: null,
    persisted: null,
  };
}

/** Forgets every stored chunk (a new version of the file, or bytes that failed the file hash). */
export function resetChunks(manifest: ModelManifest): void {
  manifest.chunks.fill(null);
  manifest.state = 'partial';
  manifest.sha256 = null;
  manifest.hashState = new Sha256().save();
  manifest.damagedChunks = [];
}

export function isSha256Hex(value: string): boolean {
  return /^[0-9a-f]{64}$/i.test(value);
}

/** A stable id for a URL: the URL without query or fragment (signed CDN query strings vary). */
export function idForUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

export function idForFile(name: string, size: number): string {
  return `file:${name}:${size}`;
}

export function nameFromUrl(url: string): string {
  const path = new URL(url).pathname;
  return decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)) || url;
}

/** The state a manifest's chunks support: one left `verifying` by an interrupted check settles. */
export function settledState(manifest: ModelManifest): ModelState {
  if (manifest.state !== 'verifying') return manifest.state;
  const whole =
    manifest.chunks.every((hash) => hash !== null) && manifest.damagedChunks.length === 0;
  return whole && manifest.sha256 !== null ? 'complete' : 'partial';
}
