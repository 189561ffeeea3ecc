// Grounded prompts: retrieved chunks as numbered sources in the system message (after the
// conversation's own system prompt, when it has one), the question as the user's turn (the engine
// renders both through the model's chat template), and the sources dropped, lowest-ranked first,
// until the prompt and the answer fit the context.
import type { TextLocation } from './types';

export interface Source extends TextLocation {
  documentName: string;
  text: string;
}

export interface PromptMessage {
  role: 'system' | 'user';
  content: string;
}

export const GROUNDING_INSTRUCTIONS =
  'Answer the question using only the numbered sources below. Cite each source you use by its ' +
  'number in square brackets, like [1]. If the sources do not hold the answer, say so.';

/** Where a source sits, as its citation shows it: the document, then page or heading path. */
export function sourceLabel(source: TextLocation & { documentName: string }): string {
  const where =
    source.page !== undefined
      ? `page ${source.page}`
      : source.headings.length
        ? source.headings.join(' › ')
        : '';
  return where ? `${source.documentName}, ${where}` : source.documentName;
}

export interface GroundingOptions {
  /** The conversation's own system prompt, kept before the instructions and sources. */
  systemPrompt?: string;
}

export function groundedMessages(
  question: string,
  sources: Source[],
  options: GroundingOptions = {},
): PromptMessage[] {
  const listed = sources.map((s, i) => `[${i + 1}] (${sourceLabel(s)})\n${s.text}`).join('\n\n');
  const grounding = `${GROUNDING_INSTRUCTIONS}\n\nSources:\n\n${listed}`;
  const own = options.systemPrompt?.trim();
  return [
    { role: 'system', content: own ? `${own}\n\n${grounding}` : grounding },
    { role: 'user', content: question },
  ];
}

export interface FittedPrompt<S extends Source> {
  messages: PromptMessage[];
  used: S[];
  dropped: S[];
  promptTokens: number;
}

/**
 * Keeps the best-ranked sources that fit: `budget` tokens for the rendered prompt (the context
 * less the tokens kept for the answer). `countTokens` counts a conversation through the model's
 * chat template.
 */
export async function fitSources<S extends Source>(
  question: string,
  ranked: S[],
  budget: number,
  countTokens: (messages: PromptMessage[]) => Promise<number>,
  options: GroundingOptions = {},
): Promise<FittedPrompt<S>> {
  for (let keep = ranked.length; keep >= 0; keep--) {
    const used = ranked.slice(0, keep);
    const messages = groundedMessages(question, used, options);
    const promptTokens = await countTokens(messages);
    if (promptTokens <= budget)
      return { messages, used, dropped: ranked.slice(keep), promptTokens };
  }
  throw new Error(
    `the question alone does not fit the ${budget} tokens left for the prompt; shorten it or load the model with a longer context.`,
  );
}

/** What the page says when ranked sources were left out to fit the context. */
export function describeDroppedSources(dropped: number): string {
  return dropped === 1
    ? "1 matching chunk did not fit the model's context and was left out."
    : `${dropped} matching chunks did not fit the model's context and were left out.`;
}

export interface AnswerPart {
  text: string;
  /** 1-based source number when this part is a citation. */
  citation?: number;
}

/** The answer cut into text and citations `[n]` of sources that exist. */
export function citationParts(answer: string, sourceCount: number): AnswerPart[] {
  const parts: AnswerPart[] = [];
  let last = 0;
  for (const m of answer.matchAll(/\[(\d+)\]/g)) {
    const n = Number(m[1]);
    if (n < 1 || n > sourceCount) continue;
    if (m.index > last) parts.push({ text: answer.slice(last, m.index) });
    parts.push({ text: m[0], citation: n });
    last = m.index + m[0].length;
  }
  if (last < answer.length) parts.push({ text: answer.slice(last) });
  return parts;
}
