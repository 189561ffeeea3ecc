// Fitting a conversation into the loaded context, inside the engine: the conversation is tokenized
// once, and only when it does not fit are the oldest exchanges left out (the system prompt always
// stays), the cut found by a binary search over exchange boundaries, so a long history costs a few
// tokenizations, not one per dropped turn. The reply's `done` event says how many messages were
// left out, so the page never counts tokens itself.
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

/** Every place the kept turns may start: 0, then after each whole exchange, up to the last message. */
function exchangeStarts(turns: ChatMessage[]): number[] {
  const starts = [0];
  for (let next = dropOldest(turns, 0); next !== null; next = dropOldest(turns, next)) {
    starts.push(next);
  }
  return starts;
}

/** The room an answer is kept when the prompt is long: what was asked, at most a quarter of the context. */
export function answerRoom(contextTokens: number, maxTokens: number): number {
  return Math.min(maxTokens, Math.max(MIN_ANSWER_TOKENS, Math.floor(contextTokens / 4)));
}

export function fitConversation(
  encode: (messages: ChatMessage[]) => number[],
  contextTokens: number,
  messages: ChatMessage[],
  maxTokens: number,
): FittedConversation {
  const { system, turns } = splitSystem(messages);
  const wantRoom = answerRoom(contextTokens, maxTokens);
  const fitAt = (start: number): FittedConversation | { tooLong: number } => {
    const ids = encode([...system, ...turns.slice(start)]);
    const room = contextTokens - ids.length;
    const fits = room >= wantRoom || (start === turns.length - 1 && room >= MIN_ANSWER_TOKENS);
    return fits
      ? { ids, dropped: start, maxTokens: Math.min(maxTokens, room) }
      : { tooLong: ids.length };
  };
  const whole = fitAt(0);
  if ('ids' in whole) return whole;
  // Fewer turns never take more tokens, so the first start that fits is found by bisection.
  const starts = exchangeStarts(turns);
  let best: FittedConversation | null = null;
  let lo = 1;
  let hi = starts.length - 1;
  let lastTooLong = whole.tooLong;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const fit = fitAt(starts[mid]);
    if ('ids' in fit) {
      best = fit;
      hi = mid - 1;
    } else {
      if (mid === starts.length - 1) lastTooLong = fit.tooLong;
      lo = mid + 1;
    }
  }
  if (best) return best;
  throw new EngineError(
    'context-full',
    `The last message and the system prompt take ${lastTooLong} tokens, but the loaded context holds ${contextTokens}: shorten the message or system prompt, or load the model with a longer context.`,
  );
}
