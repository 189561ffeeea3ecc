// The document store on fake-indexeddb: a document's record, text, chunks and vectors go in
// together and come out together; a failed add and a delete leave nothing behind.
import 'fake-indexeddb/auto';
import { createStore } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { DocumentStore, type NewDocument, type StoredChunk } from '../../src/store/documents';

let databases = 0;
function freshStore(chunkStore = createStore(`test-doc-chunks-${++databases}`, 'chunks')) {
  return new DocumentStore(
    createStore(`test-docs-${databases}`, 'documents'),
    createStore(`test-doc-texts-${databases}`, 'texts'),
    chunkStore,
  );
}

const DOC: NewDocument = {
  name: 'manual.pdf',
  kind: 'pdf',
  bytes: 12345,
  pages: 2,
  embedding: { id: 'models/embed.gguf', name: 'tiny-embed', dims: 4 },
};

function chunk(index: number, page: number): Omit<StoredChunk, 'documentId'> {
  return {
    index,
    start: index * 10,
    end: index * 10 + 9,
    text: `chunk ${index}`,
    tokens: 2,
    page,
    headings: [],
    vector: new Float32Array([index, 0.5, -1, 2]),
  };
}

describe('documents: store', () => {
  it('stores a document with its text, chunks and vectors, and lists it', async () => {
    const store = freshStore();
    const record = await store.add(DOC, 'full text', [chunk(0, 1), chunk(1, 2)], 1000);
    expect(record).toMatchObject({ ...DOC, chunkCount: 2, createdAt: 1000 });
    expect(await store.list()).toEqual([record]);
    expect(await store.text(record.id)).toBe('full text');
    const chunks = await store.chunks(record.id);
    expect(chunks.map((c) => [c.documentId, c.index, c.page, c.text])).toEqual([
      [record.id, 0, 1, 'chunk 0'],
      [record.id, 1, 2, 'chunk 1'],
    ]);
    expect(Array.from(chunks[1].vector)).toEqual([1, 0.5, -1, 2]);
  });

  it('deleting a document removes its record, text, chunks and vectors, and only those', async () => {
    const store = freshStore();
    const keep = await store.add(DOC, 'kept', [chunk(0, 1)]);
    const gone = await store.add(DOC, 'gone', [chunk(0, 1), chunk(1, 1), chunk(2, 2)]);
    expect(await store.counts()).toEqual({ documents: 2, texts: 2, chunks: 4 });
    await store.remove(gone.id);
    expect(await store.counts()).toEqual({ documents: 1, texts: 1, chunks: 1 });
    expect(await store.chunks(gone.id)).toEqual([]);
    expect((await store.chunks(keep.id)).length).toBe(1);
  });

  it('a failed add leaves nothing stored', async () => {
    const chunks = createStore(`test-doc-chunks-${++databases}`, 'chunks');
    const store = freshStore(chunks);
    const bad = { ...chunk(0, 1), vector: (() => undefined) as unknown as Float32Array };
    await expect(store.add(DOC, 'text', [bad])).rejects.toThrow();
    expect(await store.counts()).toEqual({ documents: 0, texts: 0, chunks: 0 });
  });

  it('sweeps text and chunks no record owns', async () => {
    const store = freshStore();
    const kept = await store.add(DOC, 'kept', [chunk(0, 1)]);
    const orphan = await store.add(DOC, 'orphan', [chunk(0, 1), chunk(1, 1)]);
    // A delete interrupted after the record went: its text and chunks remain.
    const { del } = await import('idb-keyval');
    await del(orphan.id, (store as unknown as { records: Parameters<typeof del>[1] }).records);
    expect(await store.sweep()).toBe(3);
    expect(await store.counts()).toEqual({ documents: 1, texts: 1, chunks: 1 });
    expect(await store.text(kept.id)).toBe('kept');
  });
});
