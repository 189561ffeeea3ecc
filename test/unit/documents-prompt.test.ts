// Grounded prompts: numbered sources labelled by page or heading, sources dropped from the lowest
// rank until the prompt fits, and citations found in an answer.
import { describe, expect, it } from 'vitest';
import {
  citationParts,
  describeDroppedSources,
  fitSources,
  groundedMessages,
  GROUNDING_INSTRUCTIONS,
  type Source,
} from '../../src/documents/prompt';

const SOURCES: Source[] = [
  { documentName: 'manual.pdf', page: 3, headings: [], text: 'The reset button is red.' },
  { documentName: 'notes.md', headings: ['Setup', 'Cables'], text: 'Use the blue cable.' },
  { documentName: 'paste.txt', headings: [], text: 'Unrelated words here.' },
];

const words = async (messages: { content: string }[]) =>
  messages.reduce((n, m) => n + m.content.split(/\s+/).filter(Boolean).length, 0);

describe('documents: grounded prompts', () => {
  it('lists the sources numbered, labelled by page or heading path', () => {
    const [system, user] = groundedMessages('What colour is the reset button?', SOURCES);
    expect(system.role).toBe('system');
    expect(system.content).toBe(
      `${GROUNDING_INSTRUCTIONS}\n\nSources:\n\n` +
        '[1] (manual.pdf, page 3)\nThe reset button is red.\n\n' +
        '[2] (notes.md, Setup › Cables)\nUse the blue cable.\n\n' +
        '[3] (paste.txt)\nUnrelated words here.',
    );
    expect(user).toEqual({ role: 'user', content: 'What colour is the reset button?' });
  });

  it("puts a conversation's own system prompt before the instructions", () => {
    const [system] = groundedMessages('Q?', SOURCES.slice(0, 1), { systemPrompt: ' Be brief. ' });
    expect(system.content).toBe(
      `Be brief.\n\n${GROUNDING_INSTRUCTIONS}\n\nSources:\n\n[1] (manual.pdf, page 3)\nThe reset button is red.`,
    );
    expect(groundedMessages('Q?', [], { systemPrompt: '  ' })[0].content).toBe(
      `${GROUNDING_INSTRUCTIONS}\n\nSources:\n\n`,
    );
  });

  it('says how many sources were left out', () => {
    expect(describeDroppedSources(1)).toBe(
      "1 matching chunk did not fit the model's context and was left out.",
    );
    expect(describeDroppedSources(3)).toBe(
      "3 matching chunks did not fit the model's context and were left out.",
    );
  });

  it('drops the lowest-ranked sources until the prompt fits the budget', async () => {
    const all = await words(groundedMessages('Q?', SOURCES));
    const fitted = await fitSources('Q?', SOURCES, all - 1, words);
    expect(fitted.used.map((s) => s.documentName)).toEqual(['manual.pdf', 'notes.md']);
    expect(fitted.dropped.map((s) => s.documentName)).toEqual(['paste.txt']);
    expect(fitted.promptTokens).toBeLessThanOrEqual(all - 1);
    expect((await fitSources('Q?', SOURCES, all, words)).dropped).toEqual([]);
    await expect(fitSources('Q?', SOURCES, 3, words)).rejects.toThrow(/does not fit/);
  });

  it('finds citations of existing sources in an answer', () => {
    expect(citationParts('Red [1], not blue [2][7].', 2)).toEqual([
      { text: 'Red ' },
      { text: '[1]', citation: 1 },
      { text: ', not blue ' },
      { text: '[2]', citation: 2 },
      { text: '[7].' },
    ]);
  });
});
