// The pre-tokenizer that llama.cpp applies for each `tokenizer.ggml.pre`, written as a
// tokenizer.json pre_tokenizer for @huggingface/tokenizers. The patterns are llama.cpp's (which
// avoid the inline `(?i:...)` groups JavaScript lacks); each Split keeps the matches and the
// text between them as separate pieces, as llama.cpp's regex split does.

import { GgufFormatError } from './errors.ts';

const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const LLAMA3 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const SMOLLM = ['\\p{N}', GPT2];

/** `tokenizer.ggml.pre` values and the regex splits llama.cpp runs for them, in order. */
const PRE_TOKENIZER_SPLITS = new Map<string, string[]>(
  Object.entries({
    'llama-bpe': [LLAMA3],
    llama3: [LLAMA3],
    'llama-v3': [LLAMA3],
    falcon3: [LLAMA3],
    qwen2: [QWEN2],
    'deepseek-r1-qwen': [QWEN2],
    megrez: [QWEN2],
    smollm: SMOLLM,
    starcoder: SMOLLM,
    refact: SMOLLM,
    codeshell: SMOLLM,
    exaone: SMOLLM,
    'minerva-7b': SMOLLM,
    'gpt-2': [GPT2],
    'phi-2': [GPT2],
    'roberta-bpe': [GPT2],
    default: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]'],
  }),
);

export const SUPPORTED_PRE_TOKENIZERS = [...PRE_TOKENIZER_SPLITS.keys()];

/** llama.cpp's Llama 3 pre-tokenizers emit a piece that is itself a token whole, before any merge. */
export function ignoresMerges(pre: string | undefined): boolean {
  return pre !== undefined && PRE_TOKENIZER_SPLITS.get(pre)?.[0] === LLAMA3;
}

export function byteLevelPreTokenizer(pre: string | undefined): object {
  const splits = PRE_TOKENIZER_SPLITS.get(pre ?? 'default');
  if (!splits) {
    throw new GgufFormatError(
      'bad-metadata',
      `Pre-tokenizer "${pre}" (tokenizer.ggml.pre) is not supported: this engine knows ${SUPPORTED_PRE_TOKENIZERS.join(', ')}; choose a model that uses one of them.`,
      'tokenizer.ggml.pre',
    );
  }
  return {
    type: 'Sequence',
    pretokenizers: [
      ...splits.map((regex) => ({
        type: 'Split',
        pattern: { Regex: regex },
        behavior: 'Isolated',
        invert: false,
      })),
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    ],
  };
}
