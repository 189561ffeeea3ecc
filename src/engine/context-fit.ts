// Fitting a conversation into the loaded context, inside the engine: the conversation is tokenized
// once, and only when it does not fit are the oldest turns left out (the system prompt always
// stays) and the shorter conversation tokenized again. The reply's `done` event says how many
// messages were left out, so the page never counts tokens itself.
import type { ChatMessage } from './engine';
import { EngineError } from './messages';

export interface FittedConversation {
  /** The token ids of the kept conversation, rendered with the generation prompt. */
  ids: number[];
  /** Messages after the system prompt left out of this request, counted from the oldest. */
  dropped: number;
  /** The answer budget, shortened when the prompt leaves less room than asked. */
  maxTokens: number;
}

/** The least room worth answering in; below this the person must shorten the message. */
export const MIN_ANSWER_TOKENS = 16;

/** The system message (if any) and the turns after it. */
export function splitSystem(messages: ChatMessage[]): {
  system: ChatMessage[];
  turns: ChatMessage[];
} {
  const system = messages[0]?.role === 'system' ? [messages[0]] : [];
  const turns = messages.slice(system.length);
  if (turns.length === 0) throw new RangeError('a chat request needs at least one message');
  return { system, turns };
}

/**
 * Where the kept turns start after leaving out one more: a whole exchange, so the model never sees
 * an answer without its question; null when only the last message is left.
 */
export function dropOldest(turns: ChatMessage[], start: number): number | null {
  if (start >= turns.length - 1) return null;
  const next =
    start + (turns[start].role === 'user' && turns[start + 1]?.role === 'assistant' ? 2 : 1);
  return Math.min(next, turns.length - 1);
}

export function fitConversation(
  encode: (messages: ChatMessage[]) => number[],
  contextTokens: number,
  messages: ChatMessage[],
  maxTokens: number,
): FittedConversation {
  const { system, turns } = splitSystem(messages);
  const wantRoom = Math.min(maxTokens, Math.max(MIN_ANSWER_TOKENS, Math.floor(contextTokens / 4)));
  let start = 0;
  for (;;) {
    const ids = encode([...system, ...turns.slice(start)]);
    const room = contextTokens - ids.length;
    if (room >= wantRoom || (start === turns.length - 1 && room >= MIN_ANSWER_TOKENS)) {
      return { ids, dropped: start, maxTokens: Math.min(maxTokens, room) };
    }
    const next = dropOldest(turns, start);
    if (next === null) {
      throw new EngineError(
        'context-full',
        `The last message and the system prompt take ${ids.length} tokens, but the loaded context holds ${contextTokens}: shorten the message or system prompt, or load the model with a longer context.`,
      );
    }
    start = next;
  }
}
