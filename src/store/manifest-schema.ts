// What a stored manifest must look like when read back from IndexedDB: a record another version
// or another tool wrote wrongly is refused with the field named, before any arithmetic uses it.
import * as v from 'valibot';
import { chunkCount, type ModelManifest } from './manifest';

const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const hex = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/));

const manifestSchema = v.looseObject({
  id: v.pipe(v.string(), v.minLength(1)),
  source: v.variant('kind', [
    v.looseObject({ kind: v.literal('url'), url: v.string() }),
    v.looseObject({ kind: v.literal('file'), name: v.string(), lastModified: v.number() }),
  ]),
  name: v.string(),
  size: v.pipe(count, v.minValue(1)),
  etag: v.nullable(v.string()),
  lastModified: v.nullable(v.string()),
  chunkBytes: v.pipe(count, v.minValue(64), v.multipleOf(64)),
  chunks: v.array(v.nullable(hex)),
  state: v.picklist(['partial', 'complete', 'verifying']),
  expectedSha256: v.nullable(hex),
  sha256: v.nullable(hex),
  hashState: v.object({
    words: v.pipe(v.array(v.pipe(count, v.maxValue(0xffffffff))), v.length(8)),
    bytes: v.pipe(count, v.multipleOf(64)),
  }),
  damagedChunks: v.array(count),
  header: v.nullable(v.record(v.string(), v.union([v.string(), v.number(), v.boolean()]))),
  createdAt: v.number(),
  lastUsed: v.nullable(v.number()),
  persisted: v.nullable(v.boolean()),
});

/** The manifest, or a sentence naming the first field that is wrong. */
export function checkManifest(raw: unknown): { manifest: ModelManifest } | { problem: string } {
  const result = v.safeParse(manifestSchema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    return { problem: `${v.getDotPath(issue) ?? '(the manifest)'}: ${issue.message}` };
  }
  const m = result.output as ModelManifest;
  if (m.chunks.length !== chunkCount(m.size, m.chunkBytes)) {
    return { problem: `chunks: ${m.chunks.length} listed for ${chunkCount(m.size, m.chunkBytes)}` };
  }
  if (m.damagedChunks.some((index) => index >= m.chunks.length)) {
    return { problem: 'damagedChunks: an index past the last chunk' };
  }
  return { manifest: m };
}
