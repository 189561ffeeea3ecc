import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/engine/engine';
import { describeDropped, fitContext } from '../../src/app/chat/context';
import { addMessage, currentPath, newConversation } from '../../src/store/conversations';

/** A stand-in tokenizer: one token per word plus four per message for the template's markers. */
async function countWords(messages: ChatMessage[]): Promise<number> {
  return messages.reduce((n, m) => n + m.content.split(/\s+/).filter(Boolean).length + 4, 0);
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

describe('fitContext', () => {
  it('keeps everything when the conversation fits', async () => {
    const path = turns(3, 10);
    const fit = await fitContext(countWords, 1000, 'Be brief.', path, 100);
    expect(fit.dropped).toEqual([]);
    expect(fit.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(fit.promptTokens).toBe(6 + 3 * 14);
    expect(fit.maxTokens).toBe(100);
  });

  it('drops the oldest exchanges whole, keeps the system prompt, and says so', async () => {
    const path = turns(7, 20);
    // system 6 + each turn 24: all 7 turns = 174; context 120 with room 30 keeps 3 turns (78).
    const fit = await fitContext(countWords, 120, 'Be brief.', path, 30);
    expect(fit.dropped.map((m) => m.content.split(' ')[0])).toEqual([
      'user0',
      'assistant1',
      'user2',
      'assistant3',
    ]);
    expect(fit.messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
    expect(fit.messages.slice(1).map((m) => m.content.split(' ')[0])).toEqual([
      'user4',
      'assistant5',
      'user6',
    ]);
    expect(fit.promptTokens).toBe(78);
    expect(fit.maxTokens).toBe(30);
    const text = describeDropped(fit.dropped, 120);
    expect(text).toMatch(/^Left out 4 earlier messages \(from "user0 w w/);
    expect(text).toMatch(/to "assistant3 w w.*…"\)/);
    expect(text).toMatch(/120-token context; the system prompt was kept\.$/);
  });

  it('shortens the answer budget to the room left', async () => {
    const path = turns(1, 50);
    const fit = await fitContext(countWords, 100, 'Be brief.', path, 512);
    expect(fit.promptTokens).toBe(60);
    expect(fit.maxTokens).toBe(40);
  });

  it('refuses with the numbers when the last message alone does not fit', async () => {
    const path = turns(3, 200);
    await expect(fitContext(countWords, 150, 'Be brief.', path, 64)).rejects.toThrow(
      /take 210 tokens, but the loaded context holds 150/,
    );
  });
});
