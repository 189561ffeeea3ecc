// Model output split into top-level Markdown blocks, each rendered on its own, with limits.
//
// Why blocks: while an answer streams, only its last block can still change, so each token
// re-renders that block alone and the work per token does not grow with the answer.
// Why limits: Markdown parsers recurse per nesting level and some inline rules are quadratic, so a
// hostile answer (2,000 nested quotes, 50,000 emphasis markers, a megabyte table) would overflow
// the stack or hold the page for minutes. Past a limit the text is shown as plain text.
import { Lexer } from 'marked';

export const MARKDOWN_LIMITS = {
  /** Text lexed at once: a whole stored message, or the unfinished tail of a streaming one. */
  lexChars: 256 * 1024,
  /** One block rendered as Markdown (a code block may be longer: its text is not parsed). */
  blockChars: 32 * 1024,
  codeBlockChars: 1024 * 1024,
  /** Quotes and list levels opened on one line, counted from its container markers and indent. */
  nestingDepth: 16,
  /** Emphasis markers (`*`, `_`) in one block, and the longest run of them. */
  emphasisMarkers: 2_000,
  emphasisRun: 48,
} as const;

export interface MarkdownBlock {
  /** The block's source, including the blank lines after it. */
  source: string;
  /** Why it is shown as plain text; undefined when it is rendered as Markdown. */
  plainBecause?: string;
  /** Whether it is a fenced or indented code block. */
  code: boolean;
}

const CONTAINER_PREFIX = /^(?:[ \t]*(?:>|[-*+](?=[ \t])|\d{1,9}[.)](?=[ \t])))+/;
const FENCE = /^[ \t>]*(`{3,}|~{3,})/;

function indentColumns(line: string): number {
  let columns = 0;
  for (const ch of line) {
    if (ch === ' ') columns += 1;
    else if (ch === '\t') columns += 4 - (columns % 4);
    else break;
  }
  return columns;
}

/**
 * The deepest nesting a line opens (quote markers, list markers, and indentation at two columns a
 * level), outside fenced code. Linear in the text, and cheap enough to run before any parsing.
 */
export function nestingDepth(text: string): number {
  let deepest = 0;
  let fence: string | null = null;
  for (const line of text.split('\n')) {
    const opening = FENCE.exec(line)?.[1];
    if (fence) {
      if (opening && opening[0] === fence[0] && opening.length >= fence.length) fence = null;
      continue;
    }
    if (opening) fence = opening;
    const prefix = CONTAINER_PREFIX.exec(line)?.[0] ?? '';
    const markers = prefix.replace(/\d{1,9}[.)]/g, '#').replace(/[ \t]/g, '').length;
    const depth = markers + Math.floor(indentColumns(line) / 2);
    if (depth > deepest) deepest = depth;
  }
  return deepest;
}

function emphasisProblem(source: string): string | undefined {
  let count = 0;
  let run = 0;
  let longest = 0;
  for (let i = 0; i < source.length; i++) {
    const ch = source.charCodeAt(i);
    if (ch === 42 /* * */ || ch === 95 /* _ */) {
      count += 1;
      run += 1;
      if (run > longest) longest = run;
    } else {
      run = 0;
    }
  }
  if (longest > MARKDOWN_LIMITS.emphasisRun) {
    return `a run of ${longest} emphasis markers (more than ${MARKDOWN_LIMITS.emphasisRun})`;
  }
  if (count > MARKDOWN_LIMITS.emphasisMarkers) {
    return `${count} emphasis markers in one block (more than ${MARKDOWN_LIMITS.emphasisMarkers})`;
  }
  return undefined;
}

function sizeText(chars: number): string {
  return chars >= 1024 * 1024
    ? `${(chars / 1024 / 1024).toFixed(1)} M characters`
    : `${Math.ceil(chars / 1024)} K characters`;
}

/** Why the text cannot be lexed safely as a whole, checked before the parser sees it. */
function lexProblem(text: string): string | undefined {
  if (text.length > MARKDOWN_LIMITS.lexChars) {
    return `it is longer than Markdown is rendered for (${sizeText(text.length)}, limit ${sizeText(MARKDOWN_LIMITS.lexChars)})`;
  }
  const depth = nestingDepth(text);
  if (depth > MARKDOWN_LIMITS.nestingDepth) {
    return `it nests ${depth} levels deep (limit ${MARKDOWN_LIMITS.nestingDepth})`;
  }
  return undefined;
}

function blockProblem(source: string, code: boolean): string | undefined {
  const emphasis = code ? undefined : emphasisProblem(source);
  if (emphasis) return emphasis;
  const limit = code ? MARKDOWN_LIMITS.codeBlockChars : MARKDOWN_LIMITS.blockChars;
  if (source.length > limit) {
    return `the block is longer than Markdown is rendered for (${sizeText(source.length)}, limit ${sizeText(limit)})`;
  }
  return undefined;
}

function block(source: string, type: string): MarkdownBlock {
  const code = type === 'code';
  const plainBecause = blockProblem(source, code);
  return plainBecause ? { source, code, plainBecause } : { source, code };
}

/**
 * Splits `text` into blocks. Trailing blank lines belong to the block before them; text that is
 * only blank lines gives no block. Past the lexing limits the whole text is one plain block.
 */
export function splitBlocks(text: string): MarkdownBlock[] {
  if (!text.trim()) return [];
  const problem = lexProblem(text);
  if (problem) return [{ source: text, code: false, plainBecause: problem }];
  const blocks: MarkdownBlock[] = [];
  let pending = '';
  let pendingType = '';
  for (const token of new Lexer({ gfm: true, breaks: true }).blockTokens(text)) {
    if (token.type === 'space' || !pending.trim()) {
      pending += token.raw;
      if (token.type !== 'space') pendingType = token.type;
      continue;
    }
    blocks.push(block(pending, pendingType));
    pending = token.raw;
    pendingType = token.type;
  }
  if (pending.trim()) blocks.push(block(pending, pendingType));
  return blocks;
}

/**
 * The blocks of a growing text. Blocks before the last one are finished (a later block has
 * started, so nothing more can join them) and kept; each update lexes only the text from the last
 * block on. Returns the same block objects for finished blocks, so a view can skip them.
 */
export class StreamingBlocks {
  private finished: MarkdownBlock[] = [];
  private finishedChars = 0;
  private lastText = '';

  update(text: string): { finished: MarkdownBlock[]; live: MarkdownBlock | null } {
    // A stream only grows; anything else (a new answer in the same view) starts over. Comparing
    // the text just before the cut keeps each update's cost independent of the answer's length.
    const cut = this.finishedChars;
    const edge = Math.max(0, cut - 64);
    if (
      text.length < this.lastText.length ||
      text.slice(edge, cut) !== this.lastText.slice(edge, cut)
    ) {
      this.finished = [];
      this.finishedChars = 0;
    }
    this.lastText = text;
    const tail = splitBlocks(text.slice(this.finishedChars));
    const last = tail.length - 1;
    if (last > 0) {
      const done = tail.slice(0, last);
      this.finished = [...this.finished, ...done];
      this.finishedChars += done.reduce((n, b) => n + b.source.length, 0);
    }
    return { finished: this.finished, live: tail[last] ?? null };
  }
}
