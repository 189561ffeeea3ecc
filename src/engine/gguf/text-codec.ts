// The model's own tokenizer and chat template behind the engine's TextCodec, from the GGUF alone.
import { ChatTemplate } from './chat-template';
import { GgufTokenizer, TokenStreamDecoder } from './tokenizer';
import type { TextCodec } from './engine';
import type { ModelHeader } from './types';

export function textCodec(header: ModelHeader): TextCodec {
  const tokenizer = new GgufTokenizer(header.metadata);
  const template = new ChatTemplate(header.metadata, tokenizer);
  return {
    encode: (text, options) => tokenizer.encode(text, options),
    decode: (ids) => tokenizer.decode(ids),
    endOfGeneration: tokenizer.endOfGeneration,
    addBos: tokenizer.addBos,
    bosText: tokenizer.bos === undefined ? undefined : tokenizer.tokens[tokenizer.bos],
    renderChat: (messages) => template.render(messages),
    encodeChat: (messages) => template.encode(messages),
    streamDecoder: () => new TokenStreamDecoder(tokenizer),
  };
}
