// Prompts for `npm run bench:compare` as both text and token ids: llama.cpp in WebAssembly takes
// text only, the other contenders take ids, and each must run exactly the same tokens.
import { parseHeader } from '../../../src/engine/gguf/header.ts';
import { openFileSource } from '../../../src/engine/gguf/source-node.ts';
import { textCodec } from '../../../src/engine/gguf/text-codec.ts';
import type { TextCodec } from '../../../src/engine/gguf/engine.ts';

export interface BenchPrompt {
  /** As llama.cpp in WebAssembly takes it (its completion API takes text only). */
  text: string;
  /** The same prompt as token ids, one per word. */
  ids: number[];
}

/**
 * Prompts of plain words that are each one token of the model's vocabulary (" the", " model"...),
 * so the text and its ids agree whichever tokenizer reads them; a different word order at each
 * length. Checked by encoding the text back with the model's own tokenizer.
 */
export async function benchPrompts(path: string): Promise<(length: number) => BenchPrompt> {
  const source = await openFileSource(path);
  const codec = textCodec(await parseHeader(source));
  await source.close();
  const tokens = parsedTokens(codec);
  return (length) => {
    const words = Array.from({ length }, (_, i) => tokens[(i * 7 + length) % tokens.length]);
    const text = words.map((w) => w.text).join('');
    const ids = codec.encode(text, { addBos: false });
    const expected = words.map((w) => w.id);
    if (ids.length !== length || ids.some((id, i) => id !== expected[i])) {
      throw new Error(`the ${length}-word bench prompt does not encode to one token per word`);
    }
    return { text, ids };
  };
}

/** Words of two or more letters after a space that the tokenizer reads as one token. */
function parsedTokens(codec: TextCodec): { text: string; id: number }[] {
  const out: { text: string; id: number }[] = [];
  for (let id = 0; id < 4096; id++) {
    const text = codec.decode([id]);
    if (!/^ [a-z]{2,}$/.test(text)) continue;
    const ids = codec.encode(text, { addBos: false });
    if (ids.length === 1 && ids[0] === id) out.push({ text, id });
  }
  if (out.length < 16) throw new Error(`only ${out.length} one-token words in the vocabulary`);
  return out;
}
