// Hybrid retrieval over stored chunks with Orama: BM25 full-text search and vector search (cosine
// similarity, above a floor) run as two ranked lists, fused by reciprocal-rank fusion. Orama
// matches query words as prefixes, so the question words that carry no topic ("where", "I") are
// kept out of the index and the query as stop words; a chunk matching any other word counts.
import { create, insertMultiple, search, type AnyOrama } from '@orama/orama';
import { DEFAULT_SEARCH, type SearchSettings } from './defaults';
import type { TextLocation } from './types';

export interface SearchableChunk extends TextLocation {
  documentId: string;
  index: number;
  text: string;
  vector: Float32Array;
}

/** The constant of reciprocal-rank fusion (Cormack et al. 2009): score = sum of 1 / (k + rank). */
export const RRF_K = 60;

const STOP_WORDS = (
  'a an and are as at be but by can could did do does for from had has have how i if in into is it ' +
  'its me my of on or our should so than that the their them then there these they this to us was ' +
  'we were what when where which who whom why will with would you your'
).split(' ');

export interface SearchHit<C extends SearchableChunk = SearchableChunk> {
  chunk: C;
  score: number;
  /** 1-based ranks in each list, absent where the chunk was not found by it. */
  textRank?: number;
  vectorRank?: number;
  similarity?: number;
}

function chunkKey(c: { documentId: string; index: number }): string {
  return `${c.documentId}#${c.index}`;
}

/** An index over a set of chunks; build once per set of attached documents, query many times. */
export class ChunkIndex<C extends SearchableChunk = SearchableChunk> {
  private readonly byKey = new Map<string, C>();

  private constructor(
    private readonly db: AnyOrama,
    chunks: C[],
  ) {
    for (const c of chunks) this.byKey.set(chunkKey(c), c);
  }

  get size(): number {
    return this.byKey.size;
  }

  static async build<C extends SearchableChunk>(chunks: C[]): Promise<ChunkIndex<C>> {
    const dims = chunks[0]?.vector.length ?? 1;
    if (chunks.some((c) => c.vector.length !== dims)) {
      throw new Error(
        'the chunks were embedded by models with different dimensions; search documents embedded by one model at a time',
      );
    }
    const db = create({
      schema: { key: 'string', text: 'string', embedding: `vector[${dims}]` } as const,
      components: { tokenizer: { stopWords: STOP_WORDS } },
    });
    await insertMultiple(
      db,
      chunks.map((c) => ({
        id: chunkKey(c),
        key: chunkKey(c),
        text: c.text,
        embedding: Array.from(c.vector),
      })),
    );
    return new ChunkIndex(db, chunks);
  }

  async search(
    query: string,
    vector: Float32Array,
    settings: SearchSettings = DEFAULT_SEARCH,
  ): Promise<SearchHit<C>[]> {
    if (this.size === 0) return [];
    const depth = Math.max(settings.topK * 4, 20);
    const [text, semantic] = await Promise.all([
      search(this.db, {
        mode: 'fulltext',
        term: query,
        properties: ['text'],
        threshold: 1,
        limit: depth,
      }),
      search(this.db, {
        mode: 'vector',
        vector: { value: Array.from(vector), property: 'embedding' },
        similarity: settings.similarityFloor,
        limit: depth,
      }),
    ]);
    const hits = new Map<string, SearchHit<C>>();
    const hit = (key: string) => {
      let h = hits.get(key);
      if (!h) {
        h = { chunk: this.byKey.get(key)!, score: 0 };
        hits.set(key, h);
      }
      return h;
    };
    text.hits.forEach((r, i) => {
      const h = hit(r.id);
      h.textRank = i + 1;
      h.score += 1 / (RRF_K + i + 1);
    });
    semantic.hits.forEach((r, i) => {
      const h = hit(r.id);
      h.vectorRank = i + 1;
      h.similarity = r.score;
      h.score += 1 / (RRF_K + i + 1);
    });
    return [...hits.values()].sort((a, b) => b.score - a.score).slice(0, settings.topK);
  }
}
