// Hybrid retrieval on a small generated corpus with known answers. The test embedder maps words to
// shared concepts (synonyms land on one axis), so a paraphrase with no word in common with its
// answer is found by the vector list, an identifier by BM25, and fusion must rank each answer first.
import { describe, expect, it } from 'vitest';
import { ChunkIndex, RRF_K, type SearchableChunk } from '../../src/documents/search';

const CONCEPTS = [
  ['office', 'workplace'],
  ['open', 'opens'],
  ['park', 'parking'],
  ['car', 'cars', 'automobile', 'vehicle'],
  ['employees', 'employee', 'staff'],
  ['wifi', 'internet', 'password'],
  ['lunch', 'eat', 'midday', 'cafeteria', 'meal'],
  ['holidays', 'holiday', 'vacation'],
  ['requested', 'request', 'ask'],
  ['fire', 'alarm', 'emergency'],
  ['assembly', 'gather', 'meet'],
];

function embed(text: string): Float32Array {
  const v = new Float32Array(CONCEPTS.length + 1);
  v[CONCEPTS.length] = 0.05;
  for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
    const c = CONCEPTS.findIndex((group) => group.includes(word));
    if (c >= 0) v[c] += 1;
  }
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

const CORPUS = [
  'The office opens at nine in the morning and closes at five.',
  'Employees may park their cars in the garage behind building B.',
  'The wifi password for guests is printed on the badge XK-4711.',
  'Lunch is served in the cafeteria on the third floor.',
  'Holidays must be requested two weeks ahead through the portal.',
  'The fire assembly point is the car park across the street.',
];

const chunks: SearchableChunk[] = CORPUS.map((text, index) => ({
  documentId: 'handbook',
  index,
  text,
  headings: [],
  vector: embed(text),
}));

const QUESTIONS: [string, number][] = [
  ['When does the workplace open?', 0],
  ['Where can staff leave an automobile?', 1],
  ['XK-4711', 2],
  ['Where do I eat at midday?', 3],
  ['How do I ask for vacation?', 4],
  ['Where do we gather when the fire alarm rings?', 5],
];

describe('documents: hybrid search', () => {
  it('ranks the chunk holding the answer first for every question', async () => {
    const index = await ChunkIndex.build(chunks);
    for (const [question, answer] of QUESTIONS) {
      const hits = await index.search(question, embed(question), { topK: 3, similarityFloor: 0.3 });
      expect(hits[0].chunk.index, question).toBe(answer);
      expect(hits.length).toBeLessThanOrEqual(3);
    }
  });

  it('fuses the lists: an identifier is found by BM25 alone, a paraphrase by vectors alone', async () => {
    const index = await ChunkIndex.build(chunks);
    const id = await index.search('XK-4711', embed('XK-4711'), { topK: 6, similarityFloor: 0.3 });
    expect([id[0].chunk.index, id[0].textRank, id[0].vectorRank]).toEqual([2, 1, undefined]);
    expect(id[0].score).toBe(1 / (RRF_K + 1));
    const paraphrase = 'Where do I eat at midday?';
    const [top] = await index.search(paraphrase, embed(paraphrase), {
      topK: 6,
      similarityFloor: 0.3,
    });
    expect(top.textRank).toBeUndefined();
    expect(top.vectorRank).toBe(1);
    expect(top.similarity).toBeGreaterThan(0.9);
  });

  it('keeps vector hits under the similarity floor out and returns at most top-k', async () => {
    const index = await ChunkIndex.build(chunks);
    const q = 'Where can staff leave an automobile?';
    const [best] = await index.search(q, embed(q), { topK: 6, similarityFloor: 0.5 });
    expect(best.similarity).toBeCloseTo(Math.sqrt(2 / 3), 2);
    expect(await index.search(q, embed(q), { topK: 6, similarityFloor: 0.9 })).toEqual([]);
    const all = await index.search('the', embed('the'), { topK: 2, similarityFloor: 0 });
    expect(all).toHaveLength(2);
  });

  it('refuses chunks embedded with different dimensions', async () => {
    const odd = { ...chunks[0], index: 9, vector: new Float32Array(3) };
    await expect(ChunkIndex.build([...chunks, odd])).rejects.toThrow(/different dimensions/);
  });
});
