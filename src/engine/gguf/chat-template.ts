// Renders a conversation with the model's own chat template (`tokenizer.chat_template`, Jinja,
// through @huggingface/jinja) or ChatML when the file has none, and encodes it with special-token
// parsing so markers such as `<|im_start|>` become their ids, never their spelled-out bytes. The
// template is code from the file, so it runs within bounds (bounded-template.ts).

import { Template } from '@huggingface/jinja';
import {
  DEFAULT_RENDER_LIMITS,
  renderBounded,
  TemplateLimitError,
  type RenderLimits,
  type TemplateLimit,
} from './bounded-template.ts';
import type { GgufTokenizer } from './tokenizer.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export interface RenderOptions {
  /** End with the assistant's turn opener so the model writes the reply (default true). */
  addGenerationPrompt?: boolean;
}

/** The template itself failed, refused the conversation through `raise_exception`, or ran past a limit. */
export class ChatTemplateError extends Error {
  override readonly name = 'ChatTemplateError';
  constructor(
    message: string,
    /** Set when the render was stopped at one of its bounds. */
    readonly limit?: TemplateLimit,
  ) {
    super(message);
  }
}

/** Used when the file has no template: plain ChatML, as llama.cpp falls back to. */
export const CHATML_FALLBACK =
  "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

export class ChatTemplate {
  readonly source: string;
  /** True when the file had no template and ChatML is used. */
  readonly isFallback: boolean;
  private readonly template: Template;

  constructor(
    metadata: Record<string, unknown>,
    private readonly tokenizer: GgufTokenizer,
    private readonly limits: RenderLimits = DEFAULT_RENDER_LIMITS,
  ) {
    const own = metadata['tokenizer.chat_template'];
    this.isFallback = typeof own !== 'string' || own.trim() === '';
    this.source = this.isFallback ? CHATML_FALLBACK : (own as string);
    try {
      this.template = new Template(this.source);
    } catch (err) {
      throw new ChatTemplateError(
        `The model's chat template (tokenizer.chat_template) does not parse: ${(err as Error).message}. Use --prompt-tokens or a model with a standard template.`,
      );
    }
  }

  render(messages: readonly ChatMessage[], options: RenderOptions = {}): string {
    const tokenText = (id: number | undefined) =>
      id === undefined ? '' : this.tokenizer.tokens[id];
    try {
      return renderBounded(
        this.template,
        {
          messages,
          add_generation_prompt: options.addGenerationPrompt ?? true,
          bos_token: tokenText(this.tokenizer.bos),
          eos_token: tokenText(this.tokenizer.eos),
        },
        this.limits,
      ).text;
    } catch (err) {
      if (err instanceof ChatTemplateError) throw err;
      if (err instanceof TemplateLimitError) {
        throw new ChatTemplateError(
          `The model's chat template was stopped: ${err.message}. The template in this file is broken or hostile: use a model with a standard chat template.`,
          err.limit,
        );
      }
      throw new ChatTemplateError(
        `The model's chat template failed while rendering: ${(err as Error).message}`,
      );
    }
  }

  /**
   * The prompt's token ids: the rendered text with special tokens parsed, and BOS first when the
   * model adds one and the template has not written it already.
   */
  encode(messages: readonly ChatMessage[], options: RenderOptions = {}): number[] {
    const ids = this.tokenizer.encode(this.render(messages, options), {
      addBos: false,
      parseSpecial: true,
    });
    const bos = this.tokenizer.bos;
    if (this.tokenizer.addBos && bos !== undefined && ids[0] !== bos) ids.unshift(bos);
    return ids;
  }
}
