// WordPiece, as llama.cpp tokenizes a `tokenizer.ggml.model` = "bert" vocabulary (its WPM
// tokenizer): the text is cut into words at whitespace, with every punctuation mark, ASCII symbol
// and CJK ideograph a word of its own (control characters dropped; lowercased and accents stripped
// when `tokenizer.ggml.normalizer.*` says so); each word, prefixed with "▁", is covered greedily by
// the longest vocabulary entries from its start; a word no entries cover becomes [UNK]. GGUF BERT
// vocabularies store word-initial pieces with the "▁" prefix and continuations ("##ing") without
// their "##". Matching runs over UTF-8 bytes, as llama.cpp's does, with its longest-token bound.

export interface WordPieceNormalizer {
  lowercase: boolean;
  stripAccents: boolean;
}

const PHANTOM_SPACE = '\u2581';

// llama.cpp's whitespace table (Unicode White_Space), checked before anything else.
const WHITESPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004,
  0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);
const CONTROL = /^[\p{Cc}\p{Cf}\p{Co}\p{Cs}]$/u;
const MARK = /^\p{M}$/u;
const PUNCTUATION = /^\p{P}$/u;
const SYMBOL = /^\p{S}$/u;

/** The CJK ranges llama.cpp (after Hugging Face's BertPreTokenizer) splits one by one. */
function isChineseChar(c: number): boolean {
  return (
    (c >= 0x4e00 && c <= 0x9fff) ||
    (c >= 0x3400 && c <= 0x4dbf) ||
    (c >= 0x20000 && c <= 0x2a6df) ||
    (c >= 0x2a700 && c <= 0x2b73f) ||
    (c >= 0x2b740 && c <= 0x2b81f) ||
    (c >= 0x2b920 && c <= 0x2ceaf) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0x2f800 && c <= 0x2fa1f)
  );
}

/** Unicode's simple lowercase mapping: one code point for one (llama.cpp's table). */
function toLower(c: number): number {
  const lower = String.fromCodePoint(c).toLowerCase();
  return lower.codePointAt(0)!;
}

/** The first code point of the character's canonical decomposition, as llama.cpp's NFD table. */
function nfdFirst(c: number): number {
  return String.fromCodePoint(c).normalize('NFD').codePointAt(0)!;
}

/** The words llama.cpp's WPM pre-tokenizer cuts `text` into, normalised as the options say. */
export function wordPieceWords(text: string, normalizer: WordPieceNormalizer): string[] {
  const words: string[] = [''];
  const finish = () => {
    if (words[words.length - 1].length) words.push('');
  };
  for (const char of text) {
    let c = char.codePointAt(0)!;
    if (normalizer.stripAccents) c = nfdFirst(c);
    if (WHITESPACE.has(c)) {
      finish();
      continue;
    }
    const s = String.fromCodePoint(c);
    if (c === 0 || c === 0xfffd || CONTROL.test(s)) continue;
    if (normalizer.stripAccents && MARK.test(s)) continue;
    const out = String.fromCodePoint(normalizer.lowercase ? toLower(c) : c);
    if (PUNCTUATION.test(s) || (c < 0x7f && SYMBOL.test(s)) || isChineseChar(c)) {
      finish();
      words[words.length - 1] = out;
      words.push('');
    } else {
      words[words.length - 1] += out;
    }
  }
  if (!words[words.length - 1].length) words.pop();
  return words;
}

/** A string whose UTF-16 units are the UTF-8 bytes of `text`: byte offsets become indices. */
function byteString(text: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(text)) out += String.fromCharCode(b);
  return out;
}

export class WordPiece {
  /** Vocabulary entries by their UTF-8 bytes; a later duplicate wins, as in llama.cpp's map. */
  private readonly ids = new Map<string, number>();
  private readonly maxTokenBytes: number;

  constructor(
    tokens: readonly string[],
    private readonly unk: number,
    private readonly normalizer: WordPieceNormalizer,
  ) {
    let longest = 0;
    tokens.forEach((token, id) => {
      const bytes = byteString(token);
      this.ids.set(bytes, id);
      longest = Math.max(longest, bytes.length);
    });
    this.maxTokenBytes = longest;
  }

  encode(text: string, out: number[]): void {
    for (const word of wordPieceWords(text, this.normalizer)) {
      const bytes = byteString(PHANTOM_SPACE + word);
      const n = bytes.length;
      const start = out.length;
      for (let i = 0; i < n; i++) {
        let match = false;
        for (let j = Math.min(n, i + this.maxTokenBytes + 1); j > i; j--) {
          const id = this.ids.get(bytes.slice(i, j));
          if (id !== undefined) {
            out.push(id);
            match = true;
            i = j - 1;
            break;
          }
        }
        if (!match) {
          out.length = start;
          break;
        }
      }
      if (out.length === start) out.push(this.unk);
    }
  }
}
