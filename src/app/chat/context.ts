// What the chat says when the engine left the oldest turns out to fit the loaded context (the
// engine decides; its `done` event says how many).
import type { StoredMessage } from '../../store/conversations';

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
