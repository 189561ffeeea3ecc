// Fitting a conversation into the loaded context. When the turns no longer fit, the oldest turns
// are left out (the system prompt always stays) and the caller shows what was dropped.
import type { ChatMessage } from '../../engine/engine';
import type { StoredMessage } from '../../store/conversations';

export interface FitResult {
  messages: ChatMessage[];
  /** Messages of the branch left out of this request, oldest first. */
  dropped: StoredMessage[];
  promptTokens: number;
  /** The answer budget, shortened when the prompt leaves less room than asked. */
  maxTokens: number;
}

/** The least room worth answering in; below this the person must shorten the message. */
export const MIN_ANSWER_TOKENS = 16;

export async function fitContext(
  countTokens: (messages: ChatMessage[]) => Promise<number>,
  contextTokens: number,
  systemPrompt: string,
  turns: StoredMessage[],
  maxTokens: number,
): Promise<FitResult> {
  const system: ChatMessage[] = systemPrompt ? [{ role: 'system', content: systemPrompt }] : [];
  const wantRoom = Math.min(maxTokens, Math.max(MIN_ANSWER_TOKENS, Math.floor(contextTokens / 4)));
  let start = 0;
  for (;;) {
    const kept = turns.slice(start);
    const messages = [...system, ...kept.map(({ role, content }) => ({ role, content }))];
    const promptTokens = await countTokens(messages);
    const room = contextTokens - promptTokens;
    if (room >= wantRoom || (start === turns.length - 1 && room >= MIN_ANSWER_TOKENS)) {
      return {
        messages,
        dropped: turns.slice(0, start),
        promptTokens,
        maxTokens: Math.min(maxTokens, room),
      };
    }
    if (start >= turns.length - 1) {
      throw new Error(
        `The last message and the system prompt take ${promptTokens} tokens, but the loaded context holds ${contextTokens}: shorten the message or system prompt, or load the model with a longer context.`,
      );
    }
    // Drop a whole exchange so the model never sees an answer without its question.
    start += turns[start].role === 'user' && turns[start + 1]?.role === 'assistant' ? 2 : 1;
    start = Math.min(start, turns.length - 1);
  }
}

/** "Left out 4 earlier messages (from "How do I…" to "Thanks…") to fit the 2,048-token context." */
export function describeDropped(dropped: StoredMessage[], contextTokens: number): string {
  const quote = (m: StoredMessage) => {
    const words = m.content.replace(/\s+/g, ' ').trim();
    return `"${words.length > 40 ? `${words.slice(0, 40)}…` : words}"`;
  };
  const first = dropped[0];
  const last = dropped[dropped.length - 1];
  const span = dropped.length === 1 ? quote(first) : `from ${quote(first)} to ${quote(last)}`;
  const count = dropped.length === 1 ? '1 earlier message' : `${dropped.length} earlier messages`;
  return `Left out ${count} (${span}) so the conversation fits the model's ${contextTokens.toLocaleString('en-US')}-token context; the system prompt was kept.`;
}
