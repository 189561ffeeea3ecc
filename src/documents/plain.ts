// Plain text, source code and Markdown: the text is kept as written (line ends normalised) and
// cut into blocks at blank lines, or for Markdown at the blocks `marked`'s lexer finds, with the
// heading path each block sits under.
import { Lexer, type Token } from 'marked';
import type { ExtractedText, TextBlock } from './types';

export function normaliseNewlines(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

/** Blocks between blank lines, trimmed of surrounding whitespace. */
export function paragraphBlocks(text: string, from = 0, to = text.length): TextBlock[] {
  const blocks: TextBlock[] = [];
  const re = /\S(?:[^\n]|\n(?![ \t]*\n))*/g;
  re.lastIndex = from;
  for (let m = re.exec(text); m && m.index < to; m = re.exec(text)) {
    let end = Math.min(m.index + m[0].length, to);
    while (end > m.index && /\s/.test(text[end - 1])) end--;
    blocks.push({ start: m.index, end, headings: [] });
  }
  return blocks;
}

export function extractPlain(raw: string, kind: 'text' | 'code'): ExtractedText {
  const text = normaliseNewlines(raw);
  return { kind, text, blocks: paragraphBlocks(text) };
}

function headingText(token: Token): string {
  return 'text' in token && typeof token.text === 'string' ? token.text.trim() : '';
}

export function extractMarkdown(raw: string): ExtractedText {
  const text = normaliseNewlines(raw);
  const blocks: TextBlock[] = [];
  const stack: { depth: number; title: string }[] = [];
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    const start = text.indexOf(token.raw, offset);
    if (start < 0) continue;
    offset = start + token.raw.length;
    if (token.type === 'space') continue;
    if (token.type === 'heading') {
      while (stack.length && stack[stack.length - 1].depth >= token.depth) stack.pop();
      stack.push({ depth: token.depth, title: headingText(token) });
    }
    const headings = stack.map((h) => h.title);
    for (const block of paragraphBlocks(text, start, offset)) blocks.push({ ...block, headings });
  }
  return { kind: 'markdown', text, blocks };
}
