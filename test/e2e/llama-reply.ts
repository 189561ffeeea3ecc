// llama.cpp's greedy reply to a conversation (node-llama-cpp on the CPU), rendered and tokenized
// as the engines do it: what the CPU engine, which streams text, must answer.
import type { ChatMessage } from '../../src/engine/engine';
import { parseHeader } from '../../src/engine/gguf/header';
import { openFileSource } from '../../src/engine/gguf/source-node';
import { textCodec } from '../../src/engine/gguf/text-codec';
import { greedy, vocabularyFacts } from '../fixtures/llama-oracle';

export interface LlamaReply {
  /** The reply's tokens, without the end-of-generation token. */
  ids: number[];
  text: string;
  promptTokens: number;
  /** Whether the reply ended with an end-of-generation token within `maxTokens`. */
  eos: boolean;
}

export async function llamaReply(
  path: string,
  messages: ChatMessage[],
  maxTokens: number,
): Promise<LlamaReply> {
  const source = await openFileSource(path);
  const codec = textCodec(await parseHeader(source));
  await source.close();
  const prompt = codec.encodeChat!(messages);
  const eog = new Set((await vocabularyFacts(path)).endOfGeneration);
  const ids = await greedy(path, prompt, maxTokens);
  const end = ids.findIndex((id) => eog.has(id));
  const reply = end < 0 ? ids : ids.slice(0, end);
  return { ids: reply, text: codec.decode(reply), promptTokens: prompt.length, eos: end >= 0 };
}
