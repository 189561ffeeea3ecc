import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHeader } from '../../src/engine/gguf/header.ts';
import { openFileSource } from '../../src/engine/gguf/source-node.ts';
import { GgufTokenizer, TokenStreamDecoder } from '../../src/engine/gguf/tokenizer.ts';
import { ensureFixtures } from '../fixtures/gguf/ensure.ts';
import { FIXTURES } from '../fixtures/gguf/models.ts';
import { closeOracle, preload, tokenize, vocabularyFacts } from '../fixtures/llama-oracle.ts';

const MIXED = [
  'Hello world! The quick brown fox jumps over the lazy dog.',
  '你好，世界。今天天气很好，我们在浏览器里运行模型。',
  'Emoji: 🙂👍🏽🚀 and a family 👨‍👩‍👧 in text.',
  'function add(a, b) {\n    return a + b;\n}\n\tconst x = add(1, 22) * 333;',
  'Spaces:  two,   three,    four.\n\n\nThree newlines, then   \n  trailing   ',
  "It's what we'll do, I'd say; they've gone. Numbers: 1234567 3.14159 1e-5",
].join('\n');

const TEXTS = [
  MIXED,
  ' leading space',
  '  two leading spaces',
  '\nnewline first',
  'a',
  '',
  'trailing space ',
  'ÀÉÎÕÜ ñ ß ø',
  '<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n',
  '<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>',
  '<s>[INST] Hi [/INST] Hello </s>',
  'a\r\nb\r\n\r\n',
  'x\u00a0y \u00a0 z\u3000full\u3000width zero\u200bwidth',
  '日本語のテキスト、한국어 텍스트 مرحبا بالعالم ١٢٣٤',
  'ﬁne café naïve \u0301e\u0301 Ǆǅǆ',
  '\t\ttabs\t here  \t',
  '   ',
  ' \n ',
  "DON'T I'M YOU'LL",
  '$100 + <tag> = ~5^2 | x ...!!!???',
  '🙂🙂🙂 🏳️‍🌈',
  'x'.repeat(300),
];

describe.each(FIXTURES.filter((f) => f.id !== 'pair-q8_0').map((f) => f.id))(
  'tokenizer of %s',
  (id) => {
    let path: string;
    let tokenizer: GgufTokenizer;
    beforeAll(async () => {
      path = ensureFixtures()[id];
      await preload(path);
      const source = await openFileSource(path);
      try {
        tokenizer = new GgufTokenizer((await parseHeader(source)).metadata);
      } finally {
        await source.close();
      }
    }, 120_000);

    it.each(TEXTS.map((t) => [JSON.stringify(t).slice(0, 40), t]))(
      'encodes %s as llama.cpp does (special tokens parsed)',
      async (_name, text) => {
        expect(tokenizer.encode(text, { addBos: false })).toEqual(
          await tokenize(path, text, { special: true }),
        );
      },
    );

    it.each(TEXTS.map((t) => [JSON.stringify(t).slice(0, 40), t]))(
      'encodes %s as llama.cpp does (special tokens as text)',
      async (_name, text) => {
        expect(tokenizer.encode(text, { addBos: false, parseSpecial: false })).toEqual(
          await tokenize(path, text, { special: false }),
        );
      },
    );

    it('decodes what it encodes', () => {
      for (const text of TEXTS) {
        if (text.includes('<')) continue;
        expect(tokenizer.decode(tokenizer.encode(text, { addBos: false }))).toBe(text);
      }
      expect(tokenizer.decode(tokenizer.encode(MIXED, { addBos: true }))).toBe(MIXED);
    });
  },
);

describe('TokenStreamDecoder', () => {
  let tokenizer: GgufTokenizer;
  beforeAll(async () => {
    const source = await openFileSource(ensureFixtures()['llama-spm-f16']);
    tokenizer = new GgufTokenizer((await parseHeader(source)).metadata);
    await source.close();
  });

  it('emits only complete characters and adds up to the whole text', () => {
    const ids = tokenizer.encode(MIXED, { addBos: false });
    expect(ids.filter((id) => tokenizer.tokens[id].startsWith('<0x')).length).toBeGreaterThan(10);
    const stream = new TokenStreamDecoder(tokenizer);
    const parts: string[] = [];
    for (const id of ids) {
      const part = stream.push(id);
      expect(part).not.toContain('\uFFFD');
      parts.push(part);
    }
    parts.push(stream.flush());
    expect(parts.join('')).toBe(MIXED);
    expect(parts.filter((p) => p === '').length).toBeGreaterThan(0);
  });

  it('keeps the leading space of a continuation', () => {
    const ids = tokenizer.encode('Hello world', { addBos: false });
    const word = ids.findIndex((id, i) => i > 0 && tokenizer.tokens[id].startsWith('\u2581'));
    expect(word).toBeGreaterThan(0);
    expect(tokenizer.decode(ids.slice(word), { continuation: true })).toBe(' world');
    expect(tokenizer.decode(ids.slice(word))).toBe('world');
  });
});

afterAll(closeOracle);

describe('special tokens and BOS as llama.cpp sees them', () => {
  it.each(FIXTURES.map((f) => f.id))(
    '%s',
    async (id) => {
      const path = ensureFixtures()[id];
      const source = await openFileSource(path);
      const tokenizer = new GgufTokenizer((await parseHeader(source)).metadata);
      await source.close();
      const facts = await vocabularyFacts(path);
      expect(facts.vocabSize).toBe(tokenizer.vocabSize);
      expect(tokenizer.bos ?? null).toBe(facts.bos);
      expect(tokenizer.eos ?? null).toBe(facts.eos);
      expect(tokenizer.addBos).toBe(facts.addsBos);
      expect([...tokenizer.endOfGeneration].sort((a, b) => a - b)).toEqual(facts.endOfGeneration);
    },
    60_000,
  );
});
