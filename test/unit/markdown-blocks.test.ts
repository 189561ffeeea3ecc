// Markdown split into blocks with limits: hostile answers (the "Markdown bombs") become
// plain text before the parser sees them, ordinary Markdown still renders, and a streaming answer
// keeps its finished blocks so each token lexes only the live last block.
import { describe, expect, it } from 'vitest';
import { markdownToHtml } from '../../src/app/chat/markdown';
import {
  MARKDOWN_LIMITS,
  StreamingBlocks,
  nestingDepth,
  splitBlocks,
  type MarkdownBlock,
} from '../../src/app/chat/markdown-blocks';

/** Renders what the view would: Markdown blocks through the parser, plain blocks as they are. */
function renderAll(blocks: MarkdownBlock[]): string[] {
  return blocks.map((b) => (b.plainBecause ? b.source : markdownToHtml(b.source)));
}

function nestedList(levels: number, itemsPerLevel: number): string {
  const lines: string[] = [];
  for (let level = 0; level < levels; level++) {
    for (let i = 0; i < itemsPerLevel; i++) lines.push(`${'  '.repeat(level)}- item ${level}.${i}`);
  }
  return lines.join('\n');
}

describe('Markdown bombs', () => {
  it('shows 2,000 nested quotes as plain text instead of overflowing the stack', () => {
    const text = `${'>'.repeat(2000)} deep`;
    const blocks = splitBlocks(text);
    expect(blocks).toHaveLength(1);
    expect(blocks[0].plainBecause).toMatch(/nests 2000 levels deep \(limit 16\)/);
    expect(renderAll(blocks)).toEqual([text]);
  });

  it('shows 50,000 nested emphasis markers as plain text', () => {
    const text = `${'*'.repeat(50_000)}a${'*'.repeat(50_000)}`;
    const blocks = splitBlocks(text);
    expect(blocks).toHaveLength(1);
    expect(blocks[0].plainBecause).toMatch(/run of 50000 emphasis markers/);
  });

  it('shows 50,000 nested list markers on one line as plain text', () => {
    const text = `${'* '.repeat(50_000)}a`;
    expect(splitBlocks(text)[0].plainBecause).toMatch(/nests 50000 levels deep/);
  });

  it('shows a 3.3 MB table as plain text', () => {
    const text = '| a | b | c |\n|---|---|---|\n' + '| xx | yy | zz |\n'.repeat(200_000);
    expect(text.length).toBeGreaterThan(3_300_000);
    const blocks = splitBlocks(text);
    expect(blocks).toHaveLength(1);
    expect(blocks[0].plainBecause).toMatch(/longer than Markdown is rendered for \(3\.\d M/);
  });

  it('shows `_a` x 100,000 as plain text', () => {
    const blocks = splitBlocks('_a'.repeat(100_000));
    expect(blocks.map((b) => b.plainBecause)).toEqual([
      `100000 emphasis markers in one block (more than ${MARKDOWN_LIMITS.emphasisMarkers})`,
    ]);
  });

  it('shows a 4 MB nested list as plain text', () => {
    const text = nestedList(400, 200);
    expect(text.length).toBeGreaterThan(4_000_000);
    expect(splitBlocks(text)[0].plainBecause).toMatch(/longer than Markdown is rendered for/);
  });

  it('shows a small but deeply nested list as plain text', () => {
    const text = nestedList(40, 1);
    expect(nestingDepth(text)).toBe(40);
    expect(splitBlocks(text)[0].plainBecause).toMatch(/nests 40 levels deep/);
  });

  it('limits one block, not the whole answer: the blocks around a bomb still render', () => {
    const bomb = '_a'.repeat(3_000);
    const blocks = splitBlocks(`# Title\n\n${bomb}\n\nAfter **it**.`);
    expect(blocks.map((b) => b.plainBecause === undefined)).toEqual([true, false, true]);
    const [title, , after] = renderAll(blocks);
    expect(title).toBe('<h1>Title</h1>\n');
    expect(after).toBe('<p>After <strong>it</strong>.</p>\n');
  });
});

describe('ordinary Markdown within the limits', () => {
  it('renders tables, nested lists, quotes and emphasis as Markdown', () => {
    const text = [
      '| a | b |\n|---|---|\n' + '| 1 | 2 |\n'.repeat(50),
      nestedList(6, 2),
      '> > > quoted three deep',
      '*em* and __strong__ '.repeat(100),
      '```ts\n' + 'const snake_case_name = a * b;\n'.repeat(500) + '```',
    ].join('\n\n');
    const blocks = splitBlocks(text);
    expect(blocks.map((b) => b.plainBecause)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    const html = renderAll(blocks);
    expect(html[0]).toMatch(/^<table>/);
    expect(html[1].match(/<ul>/g)).toHaveLength(6);
    expect(html[2].match(/<blockquote>/g)).toHaveLength(3);
    expect(html[3].match(/<em>/g)).toHaveLength(100);
    expect(blocks[4].code).toBe(true);
  });

  it('keeps every character: the blocks put together are the text', () => {
    const text = '\n\nIntro\n\n- a\n- b\n\n\n```\ncode\n```\nTail  \n';
    expect(
      splitBlocks(text)
        .map((b) => b.source)
        .join(''),
    ).toBe(text);
  });

  it('gives no block for blank text', () => {
    expect(splitBlocks('')).toEqual([]);
    expect(splitBlocks('\n \n')).toEqual([]);
  });
});

describe('StreamingBlocks', () => {
  /** An answer of paragraphs and lists, as the tokens a model would stream. */
  function tokens(count: number): string[] {
    const out: string[] = [];
    for (let i = 0; out.length < count; i++) {
      if (i % 7 === 6) out.push('\n\n- one', '\n- two', '\n- three', '\n\n');
      else out.push(...`Sentence ${i} has *some* words in it.`.split(/(?= )/), '\n\n');
    }
    return out.slice(0, count);
  }

  it('lexes only the live block per token and ends with the blocks of the whole text', () => {
    const stream = new StreamingBlocks();
    let text = '';
    let longestLive = 0;
    let finishedChars = 0;
    let previous: MarkdownBlock[] = [];
    for (const token of tokens(4_000)) {
      text += token;
      const { finished, live } = stream.update(text);
      // Finished blocks are kept as they were: the same objects, only appended to.
      if (previous.some((b, i) => finished[i] !== b)) throw new Error('a finished block changed');
      for (const b of finished.slice(previous.length)) finishedChars += b.source.length;
      previous = finished;
      const liveChars = live?.source.length ?? 0;
      expect(finishedChars + liveChars).toBe(text.length);
      longestLive = Math.max(longestLive, liveChars);
    }
    expect(previous.length).toBeGreaterThan(400);
    // The part lexed per token stays the size of one paragraph, however long the answer grows.
    expect(longestLive).toBeLessThan(64);
    const whole = splitBlocks(text).map((b) => b.source);
    const streamed = stream.update(text);
    expect([...streamed.finished, streamed.live].map((b) => b?.source)).toEqual(whole);
  });

  it('starts over when the text is replaced by a shorter one', () => {
    const stream = new StreamingBlocks();
    stream.update('First paragraph.\n\nSecond paragraph.\n\nThird');
    const { finished, live } = stream.update('Other');
    expect(finished).toEqual([]);
    expect(live?.source).toBe('Other');
  });

  it('keeps a list open while more items may join it', () => {
    const stream = new StreamingBlocks();
    const { finished } = stream.update('- a\n\n- b\n\n');
    expect(finished).toEqual([]);
    const after = stream.update('- a\n\n- b\n\nAfter the list');
    expect(after.finished.map((b) => b.source)).toEqual(['- a\n\n- b\n\n']);
  });
});
