// The model's tokenizer, built from the GGUF vocabulary alone, matching llama.cpp's: SentencePiece
// style (`llama`: scored pieces merged best-first, byte fallback, a leading space before text that
// starts the input or follows a special token) and byte-level BPE (`gpt2`, with the pre-tokenizer
// `tokenizer.ggml.pre` names). @huggingface/tokenizers runs the BPE; special tokens are split out
// here, because llama.cpp parses control tokens only on request. BERT vocabularies (`bert`) use
// WordPiece (wordpiece.ts), with [CLS] before and [SEP] after the text.

import { Tokenizer } from '@huggingface/tokenizers';
import { GgufFormatError } from './errors.ts';
import { byteLevelPreTokenizer, ignoresMerges } from './pretokenizers.ts';
import { SpecialTokenSplitter } from './special-tokens.ts';
import { spmMerges } from './spm-merges.ts';
import { WordPiece } from './wordpiece.ts';

export const TokenType = {
  normal: 1,
  unknown: 2,
  control: 3,
  userDefined: 4,
  unused: 5,
  byte: 6,
} as const;

export interface EncodeOptions {
  /** Prepend BOS; defaults to the model's `tokenizer.ggml.add_bos_token`. */
  addBos?: boolean;
  /** Turn control tokens written in the text (e.g. `<|im_start|>`) into their ids; default true. */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Render control tokens as their text instead of dropping them. */
  special?: boolean;
  /** The ids continue earlier text: keep the leading space a SentencePiece vocabulary adds. */
  continuation?: boolean;
}

/** Tokens that end a reply when the metadata does not name them. */
const END_TOKEN_TEXTS = [
  '<|im_end|>',
  '<|eot_id|>',
  '<|eom_id|>',
  '<|endoftext|>',
  '<|end_of_text|>',
  '<|end|>',
  '<end_of_turn>',
  '</s>',
];

function strings(metadata: Record<string, unknown>, key: string): string[] {
  const value = metadata[key];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new GgufFormatError(
      'bad-metadata',
      `Metadata "${key}" is missing or not a list of strings: the file has no usable vocabulary.`,
      key,
    );
  }
  return value as string[];
}

function optionalId(
  metadata: Record<string, unknown>,
  key: string,
  vocabSize: number,
): number | undefined {
  const value = metadata[key];
  if (value === undefined) return undefined;
  const id = Number(value);
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
    if (id === -1 || id === 0xffffffff) return undefined;
    throw new GgufFormatError(
      'bad-metadata',
      `Metadata "${key}" is ${String(value)}, outside the ${vocabSize}-token vocabulary.`,
      key,
    );
  }
  return id;
}

let byteDecoderCache: Map<string, number> | undefined;
/** Inverse of GPT-2's byte-to-printable-character map. */
function byteDecoder(): Map<string, number> {
  if (!byteDecoderCache) {
    byteDecoderCache = new Map();
    let extra = 0;
    for (let b = 0; b < 256; b++) {
      const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      byteDecoderCache.set(String.fromCharCode(printable ? b : 256 + extra++), b);
    }
  }
  return byteDecoderCache;
}

export class GgufTokenizer {
  readonly model: 'llama' | 'gpt2' | 'bert';
  readonly tokens: readonly string[];
  readonly types: readonly number[];
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly eot: number | undefined;
  /** Generation stops at any of these. */
  readonly endOfGeneration: ReadonlySet<number>;
  /** Whether prompts start with BOS (`tokenizer.ggml.add_bos_token`). */
  readonly addBos: boolean;
  readonly addSpacePrefix: boolean;
  /** [SEP], which a WordPiece (BERT) model's input ends with; undefined for other models. */
  readonly sep: number | undefined;
  private readonly bpe?: Tokenizer;
  private readonly wordPiece?: WordPiece;
  private readonly ids = new Map<string, number>();
  private readonly alwaysSplit: SpecialTokenSplitter;
  private readonly specialSplit: SpecialTokenSplitter;

  constructor(metadata: Record<string, unknown>) {
    const model = metadata['tokenizer.ggml.model'];
    if (model !== 'llama' && model !== 'gpt2' && model !== 'bert') {
      throw new GgufFormatError(
        'bad-metadata',
        `Tokenizer "${String(model)}" (tokenizer.ggml.model) is not supported: this engine reads SentencePiece ("llama"), byte-level BPE ("gpt2") and WordPiece ("bert") vocabularies.`,
        'tokenizer.ggml.model',
      );
    }
    this.model = model;
    const tokens = strings(metadata, 'tokenizer.ggml.tokens');
    const rawTypes = metadata['tokenizer.ggml.token_type'];
    const types = Array.isArray(rawTypes)
      ? rawTypes.map(Number)
      : tokens.map(() => TokenType.normal);
    this.tokens = tokens;
    this.types = types;
    tokens.forEach((t, id) => {
      if (!this.ids.has(t)) this.ids.set(t, id);
    });
    const bert = model === 'bert';
    // llama.cpp's defaults for BERT vocabularies, whose converter writes no BOS: [CLS] 101, [SEP]
    // 102, [UNK] 100.
    const bertDefault = (id: number) => (bert && id < tokens.length ? id : undefined);
    this.bos =
      optionalId(metadata, 'tokenizer.ggml.bos_token_id', tokens.length) ?? bertDefault(101);
    this.sep = bert
      ? (optionalId(metadata, 'tokenizer.ggml.seperator_token_id', tokens.length) ??
        bertDefault(102))
      : undefined;
    this.eos = optionalId(metadata, 'tokenizer.ggml.eos_token_id', tokens.length);
    this.eot = optionalId(metadata, 'tokenizer.ggml.eot_token_id', tokens.length);
    const ends = new Set<number>();
    for (const id of [
      this.eos,
      this.eot,
      optionalId(metadata, 'tokenizer.ggml.eom_token_id', tokens.length),
    ]) {
      if (id !== undefined) ends.add(id);
    }
    for (const text of END_TOKEN_TEXTS) {
      const id = this.ids.get(text);
      if (id !== undefined && types[id] === TokenType.control) ends.add(id);
    }
    this.endOfGeneration = ends;
    // llama.cpp always starts a WordPiece input with [CLS].
    this.addBos = bert || Boolean(metadata['tokenizer.ggml.add_bos_token'] ?? model === 'llama');
    this.addSpacePrefix =
      model === 'llama' && Boolean(metadata['tokenizer.ggml.add_space_prefix'] ?? true);

    const splitter = (kinds: number[]) => {
      const entries: [string, number][] = [];
      tokens.forEach((t, id) => {
        if (kinds.includes(types[id])) entries.push([t, this.ids.get(t)!]);
      });
      return new SpecialTokenSplitter(entries);
    };
    this.alwaysSplit = splitter([TokenType.userDefined]);
    this.specialSplit = splitter([TokenType.userDefined, TokenType.control, TokenType.unknown]);

    // A Map first: token texts such as "constructor" or "__proto__" are not plain-object keys.
    const vocabIds = new Map<string, number>();
    tokens.forEach((t, id) => {
      if (types[id] !== TokenType.control && !vocabIds.has(t)) vocabIds.set(t, id);
    });
    // The library reads the vocabulary with Object.entries, which sees own keys only.
    const vocab = Object.fromEntries(vocabIds);
    if (bert) {
      const lowercase = Boolean(metadata['tokenizer.ggml.normalizer.lowercase'] ?? false);
      const unk =
        optionalId(metadata, 'tokenizer.ggml.unknown_token_id', tokens.length) ?? bertDefault(100);
      if (unk === undefined) {
        throw new GgufFormatError(
          'bad-metadata',
          'The WordPiece vocabulary names no [UNK] token (tokenizer.ggml.unknown_token_id) and has no token 100 to default to: the file is damaged.',
          'tokenizer.ggml.unknown_token_id',
        );
      }
      this.wordPiece = new WordPiece(tokens, unk, {
        lowercase,
        stripAccents: Boolean(metadata['tokenizer.ggml.normalizer.strip_accents'] ?? lowercase),
      });
    } else if (model === 'llama') {
      const scores = metadata['tokenizer.ggml.scores'];
      const { merges } = spmMerges(
        tokens,
        Array.isArray(scores) ? scores.map(Number) : [],
        (id) => types[id] === TokenType.normal || types[id] === TokenType.userDefined,
      );
      const unk = optionalId(metadata, 'tokenizer.ggml.unknown_token_id', tokens.length) ?? 0;
      this.bpe = new Tokenizer(
        {
          added_tokens: [],
          normalizer: null,
          pre_tokenizer: null,
          post_processor: null,
          decoder: null,
          model: {
            type: 'BPE',
            vocab,
            merges,
            unk_token: tokens[unk],
            byte_fallback: true,
            fuse_unk: true,
          },
        },
        { clean_up_tokenization_spaces: false },
      );
    } else {
      const merges = strings(metadata, 'tokenizer.ggml.merges');
      const pre = metadata['tokenizer.ggml.pre'];
      this.bpe = new Tokenizer(
        {
          added_tokens: [],
          normalizer: null,
          pre_tokenizer: byteLevelPreTokenizer(typeof pre === 'string' ? pre : undefined),
          post_processor: null,
          decoder: null,
          model: {
            type: 'BPE',
            vocab,
            merges,
            ignore_merges: ignoresMerges(typeof pre === 'string' ? pre : undefined),
            byte_fallback: false,
          },
        },
        { clean_up_tokenization_spaces: false },
      );
    }
  }

  get vocabSize(): number {
    return this.tokens.length;
  }

  /** The id of a token's exact text (e.g. `<|im_start|>`), if the vocabulary has it. */
  tokenId(text: string): number | undefined {
    return this.ids.get(text);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (options.addBos ?? this.addBos) {
      if (this.bos === undefined)
        throw new GgufFormatError(
          'bad-metadata',
          'The model asks for a BOS token but names none (tokenizer.ggml.bos_token_id).',
        );
      out.push(this.bos);
    }
    const split = (options.parseSpecial ?? true) ? this.specialSplit : this.alwaysSplit;
    let at = 0;
    let afterSpecial = true;
    const raw = (end: number) => {
      if (end <= at) return;
      this.encodeRaw(text.slice(at, end), afterSpecial, out);
      afterSpecial = false;
    };
    for (let m = split.find(text, 0); m; m = split.find(text, at)) {
      raw(m.index);
      out.push(m.id);
      afterSpecial = true;
      at = m.index + m.text.length;
    }
    raw(text.length);
    return out;
  }

  private encodeRaw(fragment: string, afterSpecial: boolean, out: number[]): void {
    let text = fragment;
    if (this.model === 'llama') {
      text = (this.addSpacePrefix && afterSpecial ? ' ' : '') + text;
      text = text.replace(/ /g, '\u2581');
    }
    if (this.wordPiece) {
      this.wordPiece.encode(text, out);
      return;
    }
    for (const id of this.bpe!.encode(text, { add_special_tokens: false }).ids) out.push(id);
  }

  /** The bytes a token stands for; control tokens give their text only with `special`. */
  tokenBytes(id: number, special = false): Uint8Array {
    const text = this.tokens[id];
    if (text === undefined)
      throw new RangeError(`token id ${id} is outside the ${this.tokens.length}-token vocabulary`);
    const type = this.types[id];
    const encoder = new TextEncoder();
    if (type === TokenType.control || type === TokenType.unknown || type === TokenType.unused) {
      return special ? encoder.encode(text) : new Uint8Array(0);
    }
    if (type === TokenType.userDefined) return encoder.encode(text);
    if (this.model !== 'gpt2') {
      if (type === TokenType.byte) return new Uint8Array([parseInt(text.slice(3, 5), 16)]);
      return encoder.encode(text.replace(/\u2581/g, ' '));
    }
    const decoder = byteDecoder();
    const chars = Array.from(text);
    const bytes = new Uint8Array(chars.length);
    for (let i = 0; i < chars.length; i++) {
      const b = decoder.get(chars[i]);
      if (b === undefined) return encoder.encode(text);
      bytes[i] = b;
    }
    return bytes;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const stream = new TokenStreamDecoder(this, options);
    return ids.map((id) => stream.push(id)).join('') + stream.flush();
  }
}

/**
 * Turns generated ids into text as they arrive, emitting only complete UTF-8 characters (a
 * character split over byte tokens waits for its last byte).
 */
export class TokenStreamDecoder {
  private readonly decoder = new TextDecoder('utf-8');
  private stripSpace: boolean;

  constructor(
    private readonly tokenizer: GgufTokenizer,
    private readonly options: DecodeOptions = {},
  ) {
    this.stripSpace = tokenizer.addSpacePrefix && !options.continuation;
  }

  push(id: number): string {
    let text = this.decoder.decode(this.tokenizer.tokenBytes(id, this.options.special), {
      stream: true,
    });
    if (this.stripSpace && text.length > 0) {
      if (text.startsWith(' ')) text = text.slice(1);
      this.stripSpace = false;
    }
    return text;
  }

  /** Whatever incomplete bytes remain, as replacement characters. */
  flush(): string {
    return this.decoder.decode();
  }
}
