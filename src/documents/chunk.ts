// Chunking by structure first, then by tokens. A chunk never crosses a section (a run of blocks
// on one page under one heading path); inside a section, whole blocks are packed up to
// `maxTokens` of the embedding model's tokenizer, and each next chunk starts with the previous
// chunk's last blocks, up to `overlapTokens`. A block longer than a chunk is cut into sentences, a
// sentence longer than a chunk at words, a word longer than a chunk at characters.
import type { ExtractedText, TextBlock, TextChunk } from './types';

export const DEFAULT_CHUNK_TOKENS = 400;
export const DEFAULT_OVERLAP_FRACTION = 0.15;

export interface ChunkOptions {
  maxTokens?: number;
  overlapTokens?: number;
  /** Tokens of a text in the embedding model's tokenizer (no BOS/EOS). */
  countTokens: (text: string) => number;
}

interface Piece {
  start: number;
  end: number;
  tokens: number;
}

const sentences = new Intl.Segmenter(undefined, { granularity: 'sentence' });
const words = new Intl.Segmenter(undefined, { granularity: 'word' });

function trimmed(text: string, start: number, end: number): [number, number] {
  while (start < end && /\s/.test(text[start])) start++;
  while (end > start && /\s/.test(text[end - 1])) end--;
  return [start, end];
}

/** Pieces of at most `max` tokens covering `[start, end)`, cut at word starts, else characters. */
function cutLong(
  text: string,
  start: number,
  end: number,
  max: number,
  count: (t: string) => number,
): Piece[] {
  const units: Piece[] = [];
  for (const w of words.segment(text.slice(start, end))) {
    const s = start + w.index;
    const e = s + w.segment.length;
    const tokens = count(w.segment);
    if (tokens <= max) {
      units.push({ start: s, end: e, tokens });
      continue;
    }
    const chars = Array.from(w.segment);
    const step = Math.max(1, Math.floor((chars.length * max) / tokens));
    let at = s;
    for (let i = 0; i < chars.length; i += step) {
      const part = chars.slice(i, i + step).join('');
      units.push({ start: at, end: at + part.length, tokens: count(part) });
      at += part.length;
    }
  }
  const pieces: Piece[] = [];
  let current: Piece | undefined;
  for (const u of units) {
    if (current && current.tokens + u.tokens > max) {
      pieces.push(current);
      current = undefined;
    }
    current = current ? { ...current, end: u.end, tokens: current.tokens + u.tokens } : { ...u };
  }
  if (current) pieces.push(current);
  return pieces.flatMap((p) => {
    const [s, e] = trimmed(text, p.start, p.end);
    return s < e ? [{ start: s, end: e, tokens: p.tokens }] : [];
  });
}

function blockPieces(
  text: string,
  block: TextBlock,
  max: number,
  count: (t: string) => number,
): Piece[] {
  const whole = count(text.slice(block.start, block.end));
  if (whole <= max) return [{ start: block.start, end: block.end, tokens: whole }];
  const pieces: Piece[] = [];
  for (const s of sentences.segment(text.slice(block.start, block.end))) {
    const [start, end] = trimmed(
      text,
      block.start + s.index,
      block.start + s.index + s.segment.length,
    );
    if (start === end) continue;
    const tokens = count(text.slice(start, end));
    if (tokens <= max) pieces.push({ start, end, tokens });
    else pieces.push(...cutLong(text, start, end, max, count));
  }
  return pieces;
}

function sameSection(a: TextBlock, b: TextBlock): boolean {
  return a.page === b.page && a.headings.join('\u0000') === b.headings.join('\u0000');
}

export function chunkText(doc: ExtractedText, options: ChunkOptions): TextChunk[] {
  const max = options.maxTokens ?? DEFAULT_CHUNK_TOKENS;
  const overlap = Math.min(
    options.overlapTokens ?? Math.round(max * DEFAULT_OVERLAP_FRACTION),
    Math.floor(max / 2),
  );
  if (!Number.isInteger(max) || max < 8) {
    throw new RangeError(`chunk size ${max} tokens is too small; use at least 8 tokens`);
  }
  const { text } = doc;
  const count = options.countTokens;
  const chunks: TextChunk[] = [];
  const emit = (pieces: Piece[], where: TextBlock) => {
    const start = pieces[0].start;
    const end = pieces[pieces.length - 1].end;
    const chunkText = text.slice(start, end);
    chunks.push({
      index: chunks.length,
      start,
      end,
      text: chunkText,
      tokens: count(chunkText),
      headings: where.headings,
      ...(where.page !== undefined ? { page: where.page } : {}),
    });
  };
  let section: TextBlock[] = [];
  const flushSection = () => {
    if (!section.length) return;
    const where = section[0];
    let current: Piece[] = [];
    let tokens = 0;
    for (const piece of section.flatMap((b) => blockPieces(text, b, max, count))) {
      if (current.length && tokens + piece.tokens > max) {
        emit(current, where);
        const carried: Piece[] = [];
        let carriedTokens = 0;
        for (let i = current.length - 1; i > 0; i--) {
          const next = carriedTokens + current[i].tokens;
          if (next > overlap || next + piece.tokens > max) break;
          carried.unshift(current[i]);
          carriedTokens = next;
        }
        current = carried;
        tokens = carriedTokens;
      }
      current.push(piece);
      tokens += piece.tokens;
    }
    if (current.length) emit(current, where);
    section = [];
  };
  for (const block of doc.blocks) {
    if (section.length && !sameSection(section[0], block)) flushSection();
    section.push(block);
  }
  flushSection();
  return chunks;
}
