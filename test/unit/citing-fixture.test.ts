// The chat fixture the documents e2e test asks: llama.cpp, reading it independently of our engine,
// answers any conversation with the citation "[1]" and then ends its turn.
import { afterAll, describe, expect, it } from 'vitest';
import { CITING_ANSWER, ensureCitingChat } from '../fixtures/gguf/variants.ts';
import { closeOracle } from '../fixtures/llama-oracle.ts';
import { llamaReply } from '../e2e/llama-reply.ts';

describe('citing chat fixture', () => {
  afterAll(closeOracle);

  it.each([
    [[{ role: 'user' as const, content: 'Hello' }]],
    [
      [
        {
          role: 'system' as const,
          content: 'Sources:\n\n[1] (notes.md, Doors)\nThe code is 7351.',
        },
        { role: 'user' as const, content: 'What is the code for the blue door?' },
        { role: 'assistant' as const, content: '[1]' },
        { role: 'user' as const, content: 'And [2]?' },
      ],
    ],
  ])('answers "[1]" and ends its turn (%#)', async (messages) => {
    const reply = await llamaReply(ensureCitingChat(), messages, 8);
    expect(reply.text).toBe(CITING_ANSWER);
    expect(reply.eos).toBe(true);
  });
});
