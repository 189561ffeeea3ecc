// Documents in IndexedDB: one record per document (what the Documents view lists), its text, and
// its chunks with their vectors, in three idb-keyval stores. The record is written last and
// deleted first, so a listed document always has all its text and chunks; text and chunks no
// record owns (an interrupted add or delete) are swept by `sweep`.
import {
  createStore,
  del,
  delMany,
  get,
  getMany,
  keys,
  set,
  setMany,
  values,
  type UseStore,
} from 'idb-keyval';
import type { DocumentKind, TextLocation } from '../documents/types';

export interface EmbeddingModelRef {
  /** The model's store id (or path in Node). */
  id: string;
  name: string;
  dims: number;
}

export interface DocumentRecord {
  id: string;
  name: string;
  kind: DocumentKind;
  /** Size of the file (or pasted text) in bytes. */
  bytes: number;
  pages?: number;
  chunkCount: number;
  embedding: EmbeddingModelRef;
  createdAt: number;
}

export interface StoredChunk extends TextLocation {
  documentId: string;
  index: number;
  start: number;
  end: number;
  text: string;
  tokens: number;
  /** The chunk's L2-normalised embedding. */
  vector: Float32Array;
}

export type NewDocument = Omit<DocumentRecord, 'id' | 'chunkCount' | 'createdAt'>;

type ChunkKey = [string, number];

export class DocumentStore {
  constructor(
    private readonly records: UseStore = createStore('layerwise-documents', 'documents'),
    private readonly texts: UseStore = createStore('layerwise-document-texts', 'texts'),
    private readonly chunkStore: UseStore = createStore('layerwise-document-chunks', 'chunks'),
  ) {}

  /** Every stored document, newest first. */
  async list(): Promise<DocumentRecord[]> {
    const all = await values<DocumentRecord>(this.records);
    return all.sort((a, b) => b.createdAt - a.createdAt);
  }

  get(id: string): Promise<DocumentRecord | undefined> {
    return get<DocumentRecord>(id, this.records);
  }

  text(id: string): Promise<string | undefined> {
    return get<string>(id, this.texts);
  }

  /**
   * Stores a document with its text and chunks. The record goes in last; if anything fails
   * before it, what was written is removed again, so a failed add leaves nothing behind.
   */
  async add(
    doc: NewDocument,
    text: string,
    chunks: Omit<StoredChunk, 'documentId'>[],
    now = Date.now(),
  ): Promise<DocumentRecord> {
    const id = crypto.randomUUID();
    const record: DocumentRecord = { ...doc, id, chunkCount: chunks.length, createdAt: now };
    try {
      await set(id, text, this.texts);
      await setMany(
        chunks.map((c) => [[id, c.index] as ChunkKey, { ...c, documentId: id }]),
        this.chunkStore,
      );
      await set(id, record, this.records);
    } catch (error) {
      await this.removeContent(id, chunks.length).catch(() => undefined);
      throw error;
    }
    return record;
  }

  /** A document's chunks in order. */
  async chunks(id: string): Promise<StoredChunk[]> {
    const record = await this.get(id);
    if (!record) return [];
    const keys = Array.from({ length: record.chunkCount }, (_, i): ChunkKey => [id, i]);
    return (await getMany<StoredChunk | undefined>(keys, this.chunkStore)).filter(
      (c): c is StoredChunk => c !== undefined,
    );
  }

  /** The chunks of several documents (the ones a conversation has attached, or all). */
  async chunksOf(ids: string[]): Promise<StoredChunk[]> {
    return (await Promise.all(ids.map((id) => this.chunks(id)))).flat();
  }

  async remove(id: string): Promise<void> {
    const record = await this.get(id);
    await del(id, this.records);
    await this.removeContent(id, record?.chunkCount ?? 0);
  }

  private async removeContent(id: string, chunkCount: number): Promise<void> {
    await delMany(
      Array.from({ length: chunkCount }, (_, i): ChunkKey => [id, i]),
      this.chunkStore,
    );
    await del(id, this.texts);
  }

  /** Removes text and chunks that no record owns; returns how many entries went. */
  async sweep(): Promise<number> {
    const owned = new Set(await keys<string>(this.records));
    const texts = (await keys<string>(this.texts)).filter((k) => !owned.has(k));
    const chunks = (await keys<ChunkKey>(this.chunkStore)).filter((k) => !owned.has(k[0]));
    await delMany(texts, this.texts);
    await delMany(chunks, this.chunkStore);
    return texts.length + chunks.length;
  }

  /** Counts of stored entries, for tests and the Storage summary. */
  async counts(): Promise<{ documents: number; texts: number; chunks: number }> {
    const [documents, texts, chunks] = await Promise.all([
      keys(this.records),
      keys(this.texts),
      keys(this.chunkStore),
    ]);
    return { documents: documents.length, texts: texts.length, chunks: chunks.length };
  }
}
