// Finds special tokens (control and user-defined tokens written out in text, such as
// `<|im_start|>`) in a prompt: at the leftmost position where one starts, the longest one. A
// regular expression alternating over every token cost seconds per prompt for a vocabulary of
// 200,000 control tokens; here each position costs one lookup per distinct token length, however
// many tokens share that length, and positions whose character starts no token cost one check.

export interface SpecialTokenMatch {
  index: number;
  text: string;
  id: number;
}

export class SpecialTokenSplitter {
  private readonly ids = new Map<string, number>();
  /** Distinct token lengths, longest first. */
  private readonly lengths: number[];
  private readonly firstUnits = new Set<number>();
  /** Lookups made so far: the splitter's work, for tests and diagnostics. */
  lookups = 0;

  constructor(tokens: Iterable<[text: string, id: number]>) {
    const lengths = new Set<number>();
    for (const [text, id] of tokens) {
      if (text.length === 0 || this.ids.has(text)) continue;
      this.ids.set(text, id);
      lengths.add(text.length);
      this.firstUnits.add(text.charCodeAt(0));
    }
    this.lengths = [...lengths].sort((a, b) => b - a);
  }

  get size(): number {
    return this.ids.size;
  }

  /** The first special token at or after `from`, or undefined. */
  find(text: string, from: number): SpecialTokenMatch | undefined {
    for (let index = from; index < text.length; index++) {
      if (!this.firstUnits.has(text.charCodeAt(index))) continue;
      for (const length of this.lengths) {
        if (index + length > text.length) continue;
        this.lookups++;
        const candidate = text.slice(index, index + length);
        const id = this.ids.get(candidate);
        if (id !== undefined) return { index, text: candidate, id };
      }
    }
    return undefined;
  }
}
