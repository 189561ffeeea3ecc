// WordPiece (`tokenizer.ggml.model` = "bert") against llama.cpp's WPM tokenizer on the generated
// BERT-family fixtures: cased and uncased (lowercasing and accent stripping) vocabularies, English,
// Chinese, emoji, code, accents, control and zero-width characters, and words no piece covers.
import { describe, expect, it } from 'vitest';
import { parseHeader } from '../../src/engine/gguf/header.ts';
import { openFileSource } from '../../src/engine/gguf/source-node.ts';
import { GgufTokenizer } from '../../src/engine/gguf/tokenizer.ts';
import { wordPieceWords } from '../../src/engine/gguf/wordpiece.ts';
import { ENCODER_FIXTURES } from '../fixtures/gguf/encoders.ts';
import { ensureEmbeddingFixture } from '../fixtures/gguf/variants.ts';
import { tokenize as llamaTokenize } from '../fixtures/llama-embedding-oracle.ts';

const TEXTS = [
  'The quick brown fox jumps over the lazy dog near the river bank.',
  '我们在河边散步，天气很好。人工智能的模型可以写代码。',
  'Launch day 🚀🎉 — all systems go 👍 (family: 👨‍👩‍👧)',
  'function add(a: number, b: number) {\n  return a + b;\n}\nconst x = add(1, 22) * 333;',
  'Café NAÏVE résumé Ünïcödé ÀÉÎ straße İstanbul',
  'tab\there\u0000null\u200bzero-width\ufeffbom x\u0301y  \n\n trailing ',
  'supercalifragilisticexpialidocious antidisestablishmentarianism tokenizer tokenizers',
  'It\'s what we\'ll do; "quoted" [CLS] <b>tags</b> $100 ~tilde^ `tick` 3.14159',
];

async function tokenizerOf(path: string): Promise<GgufTokenizer> {
  const source = await openFileSource(path);
  try {
    return new GgufTokenizer((await parseHeader(source)).metadata);
  } finally {
    await source.close();
  }
}

describe.each(ENCODER_FIXTURES)('WordPiece of $id', ({ id, lowercase }) => {
  it("gives llama.cpp's ids for every text", async () => {
    const path = ensureEmbeddingFixture(id);
    const tokenizer = await tokenizerOf(path);
    expect(tokenizer.model).toBe('bert');
    for (const text of TEXTS) {
      const ours = tokenizer.encode(text, { addBos: false, parseSpecial: false });
      expect(ours, text).toEqual(await llamaTokenize(path, text));
    }
  });

  it('covers words by several pieces, and an uncovered word by [UNK]', async () => {
    const tokenizer = await tokenizerOf(ensureEmbeddingFixture(id));
    const unk = tokenizer.tokenId('[UNK]')!;
    const ids = tokenizer.encode('tokenizers 🎉', { addBos: false, parseSpecial: false });
    expect(ids.length).toBeGreaterThan(2);
    expect(ids.at(-1)).toBe(unk);
    expect(ids.slice(0, -1)).not.toContain(unk);
    // A word start carries the phantom space; its continuation does not.
    expect(tokenizer.tokens[ids[0]].startsWith('\u2581')).toBe(true);
    expect(tokenizer.tokens[ids[1]].startsWith('\u2581')).toBe(false);
    expect(tokenizer.bos).toBe(101);
    expect(tokenizer.sep).toBe(102);
    const cafe = tokenizer.encode('Café', { addBos: false, parseSpecial: false });
    expect(cafe.map((i) => tokenizer.tokens[i]).join('')).toBe(
      lowercase ? '\u2581cafe' : '\u2581Café',
    );
  });
});

describe('WordPiece words', () => {
  it('splits punctuation, ASCII symbols and CJK ideographs, and drops control characters', () => {
    expect(
      wordPieceWords('Hé, (x+y)\u0000 你好 a🚀b\u200b', { lowercase: true, stripAccents: true }),
    ).toEqual(['he', ',', '(', 'x', '+', 'y', ')', '你', '好', 'a🚀b']);
    expect(wordPieceWords('Hé', { lowercase: false, stripAccents: false })).toEqual(['Hé']);
  });
});
