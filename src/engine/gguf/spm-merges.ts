// SentencePiece vocabularies carry scores, not merges; the byte-pair model needs merges. Every way
// to split a piece into two pieces of the vocabulary is a merge, ranked by the whole piece's score,
// which reproduces llama.cpp's best-score-first bigram merging. llama.cpp starts from characters,
// not tokens, so a single character counts as a half even when the vocabulary lacks it. Trying each split by slicing the
// piece costs time quadratic in its length (a 50,000-character piece never finished), so candidate
// splits are found with rolling hashes of both halves and only hash hits are compared as strings.

const P1 = 67108859;
const P2 = 67108837;
const B1 = 65599;
const B2 = 131071;

function powers(base: number, prime: number, n: number): Float64Array {
  const out = new Float64Array(n + 1);
  out[0] = 1;
  for (let i = 1; i <= n; i++) out[i] = (out[i - 1] * base) % prime;
  return out;
}

function isSurrogatePair(text: string, at: number): boolean {
  const high = text.charCodeAt(at);
  const low = text.charCodeAt(at + 1);
  return high >= 0xd800 && high <= 0xdbff && low >= 0xdc00 && low <= 0xdfff;
}

/** Both hashes in one exactly representable number (below 2^52). */
const key = (h1: number, h2: number) => h1 * P2 + h2;

export interface SpmMerges {
  merges: [string, string][];
  /**
   * Characters hashed plus characters compared to confirm hits: a measure of the work done, linear
   * in the vocabulary's size for any vocabulary whose pieces have few splits.
   */
  work: number;
}

export function spmMerges(
  tokens: readonly string[],
  scores: readonly number[],
  mergeable: (id: number) => boolean,
): SpmMerges {
  const normal = new Map<string, number>();
  let longest = 0;
  tokens.forEach((t, id) => {
    if (mergeable(id) && !normal.has(t)) {
      normal.set(t, id);
      longest = Math.max(longest, t.length);
    }
  });
  const pow1 = powers(B1, P1, longest);
  const pow2 = powers(B2, P2, longest);
  const h1 = new Float64Array(longest + 1);
  const h2 = new Float64Array(longest + 1);
  let work = 0;
  const hashPrefixes = (piece: string) => {
    for (let i = 0; i < piece.length; i++) {
      const c = piece.charCodeAt(i);
      h1[i + 1] = (h1[i] * B1 + c) % P1;
      h2[i + 1] = (h2[i] * B2 + c) % P2;
    }
    work += piece.length;
  };
  const known = new Set<number>();
  for (const piece of normal.keys()) {
    hashPrefixes(piece);
    known.add(key(h1[piece.length], h2[piece.length]));
  }
  const merges: { pair: [string, string]; score: number; id: number; left: number }[] = [];
  for (const [piece, id] of normal) {
    const n = piece.length;
    if (n < 2) continue;
    hashPrefixes(piece);
    for (let i = 1; i < n; i++) {
      // Never split a surrogate pair: pieces are sequences of whole characters.
      if (isSurrogatePair(piece, i - 1)) continue;
      const leftIsCharacter = i === 1 || (i === 2 && isSurrogatePair(piece, 0));
      if (!leftIsCharacter && !known.has(key(h1[i], h2[i]))) continue;
      const rightIsCharacter = i === n - 1 || (i === n - 2 && isSurrogatePair(piece, i));
      if (!rightIsCharacter) {
        const r1 = (((h1[n] - ((h1[i] * pow1[n - i]) % P1)) % P1) + P1) % P1;
        const r2 = (((h2[n] - ((h2[i] * pow2[n - i]) % P2)) % P2) + P2) % P2;
        if (!known.has(key(r1, r2))) continue;
      }
      const left = piece.slice(0, i);
      const right = piece.slice(i);
      work += n;
      const leftId = normal.get(left);
      if ((leftId !== undefined || leftIsCharacter) && (rightIsCharacter || normal.has(right))) {
        merges.push({ pair: [left, right], score: scores[id] ?? 0, id, left: leftId ?? -1 });
      }
    }
  }
  merges.sort((a, b) => b.score - a.score || a.id - b.id || a.left - b.left);
  return { merges: merges.map((m) => m.pair), work };
}
