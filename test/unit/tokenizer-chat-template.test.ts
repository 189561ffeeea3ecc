import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatTemplate, ChatTemplateError } from '../../src/engine/gguf/chat-template.ts';
import { parseHeader } from '../../src/engine/gguf/header.ts';
import { openFileSource } from '../../src/engine/gguf/source-node.ts';
import { GgufTokenizer } from '../../src/engine/gguf/tokenizer.ts';
import { ensureFixtures } from '../fixtures/gguf/ensure.ts';
import { closeOracle, tokenize } from '../fixtures/llama-oracle.ts';

async function load(id: string) {
  const path = ensureFixtures()[id];
  const source = await openFileSource(path);
  try {
    const { metadata } = await parseHeader(source);
    const tokenizer = new GgufTokenizer(metadata);
    return { path, tokenizer, template: new ChatTemplate(metadata, tokenizer) };
  } finally {
    await source.close();
  }
}

const conversation = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi there' },
  { role: 'assistant', content: 'Hello!' },
  { role: 'user', content: 'What is 2+2?' },
];

describe('chat templates from the GGUF', () => {
  afterAll(closeOracle);

  it('qwen2: ChatML with its default system prompt; markers become their ids', async () => {
    const { path, tokenizer, template } = await load('qwen2-q8_0');
    expect(template.isFallback).toBe(false);
    const text = template.render([{ role: 'user', content: 'Hi there' }]);
    expect(text).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n',
    );
    const ids = template.encode([{ role: 'user', content: 'Hi there' }]);
    expect(ids).toEqual(await tokenize(path, text, { special: true }));
    const start = tokenizer.tokenId('<|im_start|>')!;
    expect(ids.filter((id) => id === start)).toHaveLength(3);
    expect(ids[0]).toBe(start);
    expect(tokenizer.endOfGeneration.has(tokenizer.tokenId('<|im_end|>')!)).toBe(true);
  });

  it('qwen3: a system message replaces the default one; no generation prompt when asked', async () => {
    const { template } = await load('qwen3-q6_k');
    const text = template.render(conversation, { addGenerationPrompt: false });
    expect(text).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n',
    );
  });

  it('llama3: BOS written by the template once, header markers and eot as ids', async () => {
    const { path, tokenizer, template } = await load('llama3-q4_k_m');
    const text = template.render([{ role: 'user', content: '  Hello  ' }]);
    expect(text).toBe(
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    const ids = template.encode([{ role: 'user', content: '  Hello  ' }]);
    expect(ids.filter((id) => id === tokenizer.bos)).toHaveLength(1);
    expect(ids).toEqual(await tokenize(path, text, { special: true }));
    expect(tokenizer.endOfGeneration.has(tokenizer.tokenId('<|eot_id|>')!)).toBe(true);
    expect(tokenizer.endOfGeneration.has(tokenizer.tokenId('<|end_of_text|>')!)).toBe(true);
  });

  it('llama 2 (SentencePiece): [INST] turns with bos/eos tokens, and raise_exception on bad turns', async () => {
    const { path, tokenizer, template } = await load('llama-spm-f16');
    const text = template.render(conversation);
    expect(text).toBe(
      '<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi there [/INST] Hello! </s><s>[INST] What is 2+2? [/INST]',
    );
    const ids = template.encode(conversation);
    expect(ids).toEqual(await tokenize(path, text, { special: true }));
    expect(ids.filter((id) => id === tokenizer.bos)).toHaveLength(2);
    expect(() => template.render([{ role: 'assistant', content: 'first' }])).toThrow(
      ChatTemplateError,
    );
    expect(() => template.render([{ role: 'assistant', content: 'first' }])).toThrow(/alternate/);
  });

  it('smollm without a template: ChatML fallback with its special tokens', async () => {
    const { tokenizer, template } = await load('smollm-bf16');
    expect(template.isFallback).toBe(true);
    const text = template.render([{ role: 'user', content: 'Hi' }]);
    expect(text).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    const ids = template.encode([{ role: 'user', content: 'Hi' }]);
    expect(ids[0]).toBe(tokenizer.tokenId('<|im_start|>'));
    expect(ids.some((id) => tokenizer.tokens[id] === '<')).toBe(false);
  });

  it('a template that does not parse is a ChatTemplateError', async () => {
    const { tokenizer } = await load('qwen2-q8_0');
    expect(
      () => new ChatTemplate({ 'tokenizer.chat_template': '{% for x in %}' }, tokenizer),
    ).toThrow(ChatTemplateError);
  });
});

beforeAll(() => {
  ensureFixtures();
});
