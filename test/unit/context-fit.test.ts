import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/engine/engine';
import { fitConversation } from '../../src/engine/context-fit';
import { describeDropped } from '../../src/app/chat/context';
import { addMessage, currentPath, newConversation } from '../../src/store/conversations';

/** A stand-in tokenizer: one id per word plus four per message for the template's markers. */
function encodeWords(messages: ChatMessage[]): number[] {
  const count = messages.reduce((n, m) => n + m.content.split(/\s+/).filter(Boolean).length + 4, 0);
  return Array.from({ length: count }, (_, i) => i);
}

function turns(count: number, words: number) {
  const c = newConversation({ systemPrompt: 'Be brief.' });
  let parent: string | null = null;
  for (let i = 0; i < count; i++) {
    const role = i % 2 === 0 ? 'user' : 'assistant';
    parent = addMessage(
      c,
      parent,
      { role, content: `${role}${i} ` + 'w '.repeat(words - 1) },
      i,
    ).id;
  }
  return currentPath(c);
}

function request(path: ReturnType<typeof turns>): ChatMessage[] {
  return [
    { role: 'system', content: 'Be brief.' },
    ...path.map(({ role, content }) => ({ role, content })),
  ];
}

describe('fitConversation', () => {
  it('keeps everything when the conversation fits, tokenizing once', () => {
    const path = turns(3, 10);
    let calls = 0;
    const fit = fitConversation((m) => (calls++, encodeWords(m)), 1000, request(path), 100);
    expect(calls).toBe(1);
    expect(fit.dropped).toBe(0);
    expect(fit.ids).toHaveLength(6 + 3 * 14);
    expect(fit.maxTokens).toBe(100);
  });

  it('drops the oldest exchanges whole, keeps the system prompt, and says so', () => {
    const path = turns(7, 20);
    const seen: ChatMessage[][] = [];
    // system 6 + each turn 24: all 7 turns = 174; context 120 with room 30 keeps 3 turns (78).
    const fit = fitConversation((m) => (seen.push(m), encodeWords(m)), 120, request(path), 30);
    expect(fit.dropped).toBe(4);
    const kept = seen.find((m) => m.length === 1 + path.length - fit.dropped)!;
    expect(kept[0]).toEqual({ role: 'system', content: 'Be brief.' });
    expect(kept.slice(1).map((m) => m.content.split(' ')[0])).toEqual([
      'user4',
      'assistant5',
      'user6',
    ]);
    expect(fit.ids).toHaveLength(78);
    expect(fit.maxTokens).toBe(30);
    const text = describeDropped(path.slice(0, fit.dropped), 120);
    expect(text).toMatch(/^Left out 4 earlier messages \(from "user0 w w/);
    expect(text).toMatch(/to "assistant3 w w.*…"\)/);
    expect(text).toMatch(/120-token context; the system prompt was kept\.$/);
  });

  it('fits a 600-message history in a few tokenizations, cutting where one exchange at a time would', () => {
    const path = turns(600, 5);
    let calls = 0;
    // system 6 + each turn 9; the answer's room is a quarter of the 2000-token context, so the
    // prompt may take 1500: the last 166 turns (1500 tokens) are kept.
    const fit = fitConversation((m) => (calls++, encodeWords(m)), 2000, request(path), 1000);
    expect(fit.dropped).toBe(434);
    expect(fit.ids).toHaveLength(6 + 166 * 9);
    let linear = 0;
    while (6 + (600 - linear) * 9 > 1500) linear += 2;
    expect(fit.dropped).toBe(linear);
    expect(calls).toBeLessThanOrEqual(1 + Math.ceil(Math.log2(300)) + 1);
  });

  it('shortens the answer budget to the room left', () => {
    const fit = fitConversation(encodeWords, 100, request(turns(1, 50)), 512);
    expect(fit.ids).toHaveLength(60);
    expect(fit.maxTokens).toBe(40);
  });

  it('refuses with the numbers when the last message alone does not fit', () => {
    expect(() => fitConversation(encodeWords, 150, request(turns(3, 200)), 64)).toThrow(
      /take 210 tokens, but the loaded context holds 150/,
    );
  });
});
