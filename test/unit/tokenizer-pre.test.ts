import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUPPORTED_PRE_TOKENIZERS } from '../../src/engine/gguf/pretokenizers.ts';
import { GgufTokenizer } from '../../src/engine/gguf/tokenizer.ts';
import { FIXTURE_DIR, generatorVersion } from '../fixtures/gguf/ensure.ts';
import { FIXTURES, buildFixture } from '../fixtures/gguf/models.ts';
import { closeOracle, preload, tokenize, vocabularyFacts } from '../fixtures/llama-oracle.ts';
import { arr, str, ValueType, writeGguf, type MetaInput } from '../fixtures/gguf/writer.ts';

// Every `tokenizer.ggml.pre` the tokenizer accepts, checked against llama.cpp on a tiny model that
// carries it (and one without the key: llama.cpp's default).
const TEXT = [
  "Hello world! It's 2026; we'll run 1234567 steps.",
  '你好，世界 🙂 café\n\n\n  indented   code() {\n\treturn x+1;\n}',
  '$100 + <tag> = ~5^2 | x ...!!!??? [a](b) @user #tag',
].join('\n');

const base = buildFixture({
  ...FIXTURES.find((f) => f.id === 'qwen2-q8_0')!,
  id: 'pre',
  embd: 64,
  ff: 128,
  heads: 2,
  headsKv: 1,
  layers: 1,
});

/** Metadata as a parsed header holds it: plain values instead of the writer's typed ones. */
function plainValues(metadata: Record<string, MetaInput>): Record<string, unknown> {
  const plain: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    plain[key] =
      typeof value === 'object' ? ('values' in value ? value.values : value.value) : value;
  }
  return plain;
}

function variant(pre: string | undefined): { path: string; metadata: Record<string, unknown> } {
  const metadata: Record<string, MetaInput> = { ...base.metadata };
  if (pre === undefined) delete metadata['tokenizer.ggml.pre'];
  else metadata['tokenizer.ggml.pre'] = str(pre);
  const path = join(FIXTURE_DIR, `pre-${pre ?? 'none'}.${generatorVersion()}.gguf`);
  writeFileSync(path, writeGguf(metadata, base.tensors).bytes);
  return { path, metadata: plainValues(metadata) };
}

const variants = [...SUPPORTED_PRE_TOKENIZERS, undefined];

describe.each(variants.map((pre) => [pre ?? '(none)', pre]))('pre-tokenizer %s', (_name, pre) => {
  let path: string;
  let tokenizer: GgufTokenizer;
  beforeAll(async () => {
    mkdirSync(FIXTURE_DIR, { recursive: true });
    const v = variant(pre);
    path = v.path;
    tokenizer = new GgufTokenizer(v.metadata);
    await preload(path);
  }, 60_000);

  it('splits and merges as llama.cpp does', async () => {
    expect(tokenizer.encode(TEXT, { addBos: false })).toEqual(await tokenize(path, TEXT));
  });
});

describe('unknown pre-tokenizers', () => {
  it('are refused with the key named', () => {
    const { metadata } = variant('llama-bpe');
    const unknown = { ...metadata, 'tokenizer.ggml.pre': 'no-such-pre' };
    expect(() => new GgufTokenizer(unknown)).toThrow(/"no-such-pre" \(tokenizer\.ggml\.pre\)/);
  });
});

afterAll(closeOracle);

describe('BOS default when the file does not say', () => {
  it.each(['llama-spm-f16', 'qwen2-q8_0'])(
    '%s without tokenizer.ggml.add_bos_token',
    async (id) => {
      const small = buildFixture({
        ...FIXTURES.find((f) => f.id === id)!,
        embd: 64,
        ff: 128,
        heads: 2,
        headsKv: 1,
        layers: 1,
      });
      const metadata: Record<string, MetaInput> = { ...small.metadata };
      delete metadata['tokenizer.ggml.add_bos_token'];
      const path = join(FIXTURE_DIR, `nobos-${id}.${generatorVersion()}.gguf`);
      mkdirSync(FIXTURE_DIR, { recursive: true });
      writeFileSync(path, writeGguf(metadata, small.tensors).bytes);
      expect(new GgufTokenizer(plainValues(metadata)).addBos).toBe(
        (await vocabularyFacts(path)).addsBos,
      );
    },
    60_000,
  );
});

describe('user-defined and control tokens in a SentencePiece vocabulary', () => {
  it('user-defined tokens split always, control tokens only when parsing special tokens', async () => {
    const small = buildFixture({
      ...FIXTURES.find((f) => f.id === 'llama-spm-f16')!,
      embd: 64,
      ff: 128,
      heads: 2,
      headsKv: 1,
      layers: 1,
    });
    const tokens = [...(small.metadata['tokenizer.ggml.tokens'] as { values: string[] }).values];
    const types = [...(small.metadata['tokenizer.ggml.token_type'] as { values: number[] }).values];
    const [userId, controlId] = [tokens.length - 2, tokens.length - 1];
    tokens[userId] = '<|user|>';
    types[userId] = 4;
    tokens[controlId] = '<|ctrl|>';
    types[controlId] = 3;
    const metadata: Record<string, MetaInput> = {
      ...small.metadata,
      'tokenizer.ggml.tokens': arr(ValueType.STRING, tokens),
      'tokenizer.ggml.token_type': arr(ValueType.INT32, types),
    };
    const path = join(FIXTURE_DIR, `spm-user.${generatorVersion()}.gguf`);
    mkdirSync(FIXTURE_DIR, { recursive: true });
    writeFileSync(path, writeGguf(metadata, small.tensors).bytes);
    const tokenizer = new GgufTokenizer(plainValues(metadata));
    const text = 'hi<|user|>there <|ctrl|> x<|user|><|user|> end';
    for (const special of [true, false]) {
      const ids = tokenizer.encode(text, { addBos: false, parseSpecial: special });
      expect(ids).toEqual(await tokenize(path, text, { special }));
      expect(ids.includes(userId)).toBe(true);
      expect(ids.includes(controlId)).toBe(special);
    }
  }, 60_000);
});
