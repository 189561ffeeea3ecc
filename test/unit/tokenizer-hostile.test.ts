// Vocabularies built to break a tokenizer: token texts that are Object.prototype members, pieces
// tens of thousands of characters long, and hundreds of thousands of control tokens. Each case is
// checked against llama.cpp where llama.cpp can load the file, and for its work by a counter.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GgufFormatError } from '../../src/engine/gguf/errors.ts';
import { parseHeader } from '../../src/engine/gguf/header.ts';
import { bytesSource } from '../../src/engine/gguf/source.ts';
import { SpecialTokenSplitter } from '../../src/engine/gguf/special-tokens.ts';
import { spmMerges } from '../../src/engine/gguf/spm-merges.ts';
import { GgufTokenizer, TokenType } from '../../src/engine/gguf/tokenizer.ts';
import { seededRandom } from '../fixtures/gguf/blocks.ts';
import { FIXTURE_DIR, generatorVersion } from '../fixtures/gguf/ensure.ts';
import { FIXTURES, buildFixture } from '../fixtures/gguf/models.ts';
import { arr, ValueType, writeGguf, type MetaInput } from '../fixtures/gguf/writer.ts';
import { closeOracle, tokenize } from '../fixtures/llama-oracle.ts';

afterAll(closeOracle);

const PROTOTYPE_WORDS = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__'];

type ArrayMeta = { type: ValueType.ARRAY; itemType: ValueType; values: unknown[] };
const values = <T>(input: MetaInput) => (input as ArrayMeta).values as T[];

/**
 * A fixture whose last learned tokens are replaced by `replacements` (same vocabulary size, so the
 * weights still fit), written where llama.cpp can load it.
 */
function fixtureWith(
  id: string,
  replacements: string[],
  score: (text: string) => number,
): { path: string; bytes: Uint8Array } {
  const built = buildFixture(FIXTURES.find((f) => f.id === id)!);
  const meta = { ...built.metadata };
  const tokens = [...values<string>(meta['tokenizer.ggml.tokens'])];
  const types = values<number>(meta['tokenizer.ggml.token_type']);
  const firstSpecial = types.findIndex((t, i) => i > 256 && t !== TokenType.normal);
  const end = firstSpecial > 0 ? firstSpecial : tokens.length;
  // SentencePiece vocabularies end with single characters, which the replacements need.
  const lastLearned = meta['tokenizer.ggml.scores']
    ? tokens.findIndex((t, i) => i > 258 && Array.from(t).length === 1)
    : end;
  const replaced = new Set<string>();
  // llama.cpp refuses a vocabulary with a text twice: texts it already has keep their place.
  const present = new Set(tokens);
  replacements
    .filter((text) => !present.has(text))
    .forEach((text, k) => {
      const at = lastLearned - 1 - k;
      replaced.add(tokens[at]);
      tokens[at] = text;
    });
  meta['tokenizer.ggml.tokens'] = arr(ValueType.STRING, tokens);
  if (meta['tokenizer.ggml.scores']) {
    meta['tokenizer.ggml.scores'] = arr(
      ValueType.FLOAT32,
      tokens.map((t, i) =>
        replacements.includes(t) ? score(t) : values<number>(meta['tokenizer.ggml.scores'])[i],
      ),
    );
  }
  if (meta['tokenizer.ggml.merges']) {
    const merges = values<string>(meta['tokenizer.ggml.merges']).filter(
      (m) => !replaced.has(m.replace(' ', '')),
    );
    meta['tokenizer.ggml.merges'] = arr(ValueType.STRING, merges);
  }
  const bytes = writeGguf(meta, built.tensors, built.options).bytes;
  mkdirSync(FIXTURE_DIR, { recursive: true });
  const path = join(FIXTURE_DIR, `hostile-${id}-${replacements.length}.${generatorVersion()}.gguf`);
  writeFileSync(path, bytes);
  return { path, bytes };
}

async function tokenizerOf(bytes: Uint8Array): Promise<GgufTokenizer> {
  return new GgufTokenizer((await parseHeader(bytesSource(bytes))).metadata);
}

describe('token texts that are Object.prototype members', () => {
  it('SentencePiece: "obj.constructor.name" keeps the constructor token, as llama.cpp does', async () => {
    // Every prefix of each word is a token, longer ones scoring higher, so merging builds the word.
    const pieces = new Set<string>();
    for (const word of [...PROTOTYPE_WORDS, 'obj', 'name']) {
      for (let i = 2; i <= word.length; i++) pieces.add(word.slice(0, i));
    }
    const { path, bytes } = fixtureWith('llama-spm-f16', [...pieces], (t) => 100 + t.length);
    const tokenizer = await tokenizerOf(bytes);
    for (const text of [
      'obj.constructor.name',
      'x.toString() + y.valueOf()',
      'o.hasOwnProperty(k) __proto__',
    ]) {
      const ids = tokenizer.encode(text, { addBos: false });
      const ref = await tokenize(path, text, { special: false });
      expect(ids).toEqual(ref);
      expect(tokenizer.decode(ids)).toBe(text);
    }
    const ids = tokenizer.encode('obj.constructor.name', { addBos: false });
    expect(ids).toContain(tokenizer.tokenId('constructor'));
  }, 120_000);

  it('byte-level BPE: whole-word tokens named like Object.prototype members, as llama.cpp does', async () => {
    const { path, bytes } = fixtureWith('llama3-q4_k_m', PROTOTYPE_WORDS, () => 0);
    const tokenizer = await tokenizerOf(bytes);
    const text = PROTOTYPE_WORDS.join('\n');
    const ids = tokenizer.encode(text, { addBos: false });
    expect(ids).toEqual(await tokenize(path, text, { special: false }));
    // The pre-tokenizer splits "__proto__" at its underscores; the other words are pieces whole.
    for (const word of PROTOTYPE_WORDS.slice(0, 4)) expect(ids).toContain(tokenizer.tokenId(word));
    expect(tokenizer.decode(ids)).toBe(text);
  }, 120_000);

  it('tokenizer.ggml.pre = "constructor" is refused by name', async () => {
    const built = buildFixture(FIXTURES.find((f) => f.id === 'qwen2-q8_0')!);
    const bytes = writeGguf(
      { ...built.metadata, 'tokenizer.ggml.pre': 'constructor' },
      built.tensors,
    ).bytes;
    let error: unknown;
    try {
      await tokenizerOf(bytes);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GgufFormatError);
    expect(error).toMatchObject({ code: 'bad-metadata', subject: 'tokenizer.ggml.pre' });
    expect((error as Error).message).toContain('"constructor"');
  });
});

/**
 * Every split of every mergeable piece into two tokens or single characters (llama.cpp merges
 * characters, tokens or not), tried one by one: the reference for `spmMerges`.
 */
function naiveMerges(tokens: string[], scores: number[]): [string, string][] {
  const ids = new Map<string, number>();
  tokens.forEach((t, id) => ids.has(t) || ids.set(t, id));
  const found: { pair: [string, string]; score: number; id: number; left: number }[] = [];
  for (const [piece, id] of ids) {
    const chars = Array.from(piece);
    for (let i = 1; i < chars.length; i++) {
      const left = chars.slice(0, i).join('');
      const right = chars.slice(i).join('');
      const leftOk = ids.has(left) || i === 1;
      const rightOk = ids.has(right) || i === chars.length - 1;
      if (leftOk && rightOk)
        found.push({ pair: [left, right], score: scores[id], id, left: ids.get(left) ?? -1 });
    }
  }
  found.sort((a, b) => b.score - a.score || a.id - b.id || a.left - b.left);
  return found.map((m) => m.pair);
}

describe('SentencePiece merges from scores', () => {
  it('equal the split-by-split reference on random vocabularies', () => {
    const rand = seededRandom(77);
    const alphabet = ['a', 'b', 'c', '\u2581', 'é', '🙂', '你'];
    for (let round = 0; round < 20; round++) {
      // Some characters are not tokens themselves, as in vocabularies with byte fallback.
      const tokens = new Set<string>(alphabet.slice(0, 4));
      while (tokens.size < 200) {
        const length = 2 + Math.floor(rand() * 6);
        tokens.add(
          Array.from({ length }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(''),
        );
      }
      const list = [...tokens];
      const scores = list.map(() => Math.round(rand() * 50));
      expect(spmMerges(list, scores, () => true).merges).toEqual(naiveMerges(list, scores));
    }
  });

  it.each([20_000, 50_000])('a %d-character token costs work linear in its length', (length) => {
    const base = buildFixture(FIXTURES.find((f) => f.id === 'llama-spm-f16')!).metadata;
    const tokens = [...values<string>(base['tokenizer.ggml.tokens'])];
    const giant = Array.from({ length }, (_, i) => 'abcdefgh'[(i * 7) % 8]).join('');
    tokens.push(giant, giant.slice(0, length / 2), giant.slice(length / 2));
    const scores = tokens.map((_, i) => -i);
    const totalChars = tokens.reduce((sum, t) => sum + t.length, 0);
    const { merges, work } = spmMerges(tokens, scores, () => true);
    // Hashing every piece twice, plus confirming each real split once.
    expect(work).toBeLessThanOrEqual(3 * totalChars);
    expect(merges).toContainEqual([giant.slice(0, length / 2), giant.slice(length / 2)]);
  });

  it('a vocabulary with a 50,000-character token builds and encodes that text', () => {
    const built = buildFixture(FIXTURES.find((f) => f.id === 'llama-spm-f16')!).metadata;
    const giant = 'ab'.repeat(25_000);
    const tokens = [...values<string>(built['tokenizer.ggml.tokens']), giant];
    const tokenizer = new GgufTokenizer({
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': tokens,
      'tokenizer.ggml.scores': tokens.map((_, i) => -i),
      'tokenizer.ggml.token_type': tokens.map(
        (_, i) => values<number>(built['tokenizer.ggml.token_type'])[i] ?? 1,
      ),
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2,
    });
    expect(tokenizer.decode(tokenizer.encode(giant, { addBos: false }))).toBe(giant);
  });
});

describe('hundreds of thousands of control tokens', () => {
  const reserved = (n: number) => Array.from({ length: n }, (_, i) => `<|reserved_${i}|>`);

  it('200,000 control tokens cost the same lookups per prompt as 10 of the same lengths', () => {
    const text = 'Say <|reserved_7|> then <|reserved_123456|> and <|reserved_99999|> < | done <|';
    const scan = (tokens: string[]) => {
      const splitter = new SpecialTokenSplitter(tokens.map((t, i): [string, number] => [t, i]));
      const found: string[] = [];
      for (let m = splitter.find(text, 0); m; m = splitter.find(text, m.index + m.text.length))
        found.push(m.text);
      return { found, lookups: splitter.lookups };
    };
    const many = scan(reserved(200_000));
    const lengths = [...new Set(reserved(200_000).map((t) => t.length))];
    const few = scan([
      '<|reserved_7|>',
      '<|reserved_99999|>',
      '<|reserved_123456|>',
      ...lengths.map((l) => '<'.padEnd(l, '#')),
    ]);
    expect(many.found).toEqual(['<|reserved_7|>', '<|reserved_123456|>', '<|reserved_99999|>']);
    expect(few.found).toEqual(many.found);
    expect(many.lookups).toBe(few.lookups);
    expect(many.lookups).toBeLessThanOrEqual(text.length * lengths.length);
  });

  it('a tokenizer with 200,000 control tokens encodes them as llama.cpp would (leftmost, longest)', () => {
    const built = buildFixture(FIXTURES.find((f) => f.id === 'qwen2-q8_0')!).metadata;
    const base = values<string>(built['tokenizer.ggml.tokens']);
    const extra = reserved(200_000);
    const tokens = [...base, ...extra];
    const metadata: Record<string, unknown> = {
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': 'qwen2',
      'tokenizer.ggml.tokens': tokens,
      'tokenizer.ggml.token_type': [
        ...values<number>(built['tokenizer.ggml.token_type']),
        ...extra.map(() => TokenType.control),
      ],
      'tokenizer.ggml.merges': values<string>(built['tokenizer.ggml.merges']),
    };
    const tokenizer = new GgufTokenizer(metadata);
    const ids = tokenizer.encode('a<|reserved_19|>b<|reserved_1999|>', { addBos: false });
    expect(ids).toContain(base.length + 19);
    expect(ids).toContain(base.length + 1999);
    expect(ids).not.toContain(base.length + 1);
  });
});
