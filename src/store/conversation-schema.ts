// What a stored or imported conversation must look like. Everything read back from IndexedDB or
// from an export file passes through `checkConversation`, so a wrong type, a negative count or a
// message tree that loops is refused with the field named, before any view walks or renders it.
import * as v from 'valibot';

/** The longest message tree accepted: far past any real conversation, small enough to walk. */
export const MAX_MESSAGES = 100_000;
/** The largest answer length a conversation may ask for, in tokens. */
export const MAX_ANSWER_TOKENS = 1_048_576;

const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const timestamp = v.pipe(v.number(), v.finite());
const text = v.string();

const samplingSchema = v.looseObject({
  temperature: v.pipe(v.number(), v.finite(), v.minValue(0)),
  topK: count,
  topP: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  minP: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  repetitionPenalty: v.pipe(v.number(), v.finite(), v.gtValue(0)),
  repetitionLastN: count,
  seed: v.pipe(v.number(), v.integer()),
});

const statsSchema = v.looseObject({
  promptTokens: count,
  generatedTokens: count,
  tokensPerSecond: v.pipe(v.number(), v.finite(), v.minValue(0)),
  stopReason: v.picklist(['eos', 'stop-string', 'max-tokens', 'context-full', 'stopped', 'error']),
  droppedMessages: v.optional(count),
  error: v.optional(text),
});

const citedSourceSchema = v.looseObject({
  documentId: text,
  documentName: text,
  index: count,
  start: count,
  end: count,
  page: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  headings: v.array(text),
  text,
});

const retrievalSchema = v.looseObject({
  sources: v.array(citedSourceSchema),
  dropped: count,
  searchOnly: v.boolean(),
});

const attachedSchema = v.looseObject({
  documents: v.union([v.literal('all'), v.array(v.pipe(text, v.minLength(1)))]),
  searchOnly: v.boolean(),
});

const messageSchema = v.looseObject({
  id: text,
  parentId: v.nullable(text),
  role: v.picklist(['user', 'assistant']),
  content: text,
  createdAt: timestamp,
  modelId: v.optional(text),
  stats: v.optional(statsSchema),
  retrieval: v.optional(retrievalSchema),
});

export const conversationSchema = v.looseObject({
  id: v.pipe(text, v.minLength(1)),
  title: text,
  // null: the conversation uses the system prompt from Settings.
  systemPrompt: v.nullable(text),
  sampling: samplingSchema,
  maxTokens: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_ANSWER_TOKENS)),
  modelId: v.nullable(text),
  messages: v.record(text, messageSchema),
  currentLeaf: v.nullable(text),
  createdAt: timestamp,
  updatedAt: timestamp,
  attached: v.optional(attachedSchema),
});

export type CheckedConversation = v.InferOutput<typeof conversationSchema>;

/**
 * Names that plain objects already answer to: as a message id or a pointer they would find
 * `Object.prototype` members instead of messages.
 */
const PROTOTYPE_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

/** The conversation, typed, or a sentence naming the first field that is wrong. */
export function checkConversation(
  raw: unknown,
): { conversation: CheckedConversation } | { problem: string } {
  const messages = (raw as { messages?: unknown } | null)?.messages;
  if (messages && typeof messages === 'object') {
    const ids = Object.keys(messages);
    if (ids.length > MAX_MESSAGES) {
      return { problem: `it has ${ids.length} messages, more than the ${MAX_MESSAGES} allowed` };
    }
    const reserved = ids.find((id) => PROTOTYPE_NAMES.has(id));
    if (reserved !== undefined) return { problem: `messages: "${reserved}" is not a usable id` };
  }
  const result = v.safeParse(conversationSchema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    const path = v.getDotPath(issue) ?? '(the conversation)';
    return { problem: `${path}: ${issue.message}` };
  }
  const problem = treeProblem(result.output);
  return problem ? { problem } : { conversation: result.output };
}

/**
 * Whether the messages form a forest: every message's key is its id, every parent exists and
 * every message is reached from a root (a message left unreached sits on or under a cycle).
 */
function treeProblem(c: CheckedConversation): string | null {
  const below = new Map<string | null, string[]>();
  for (const [key, m] of Object.entries(c.messages)) {
    if (m.id !== key) return `messages.${key}.id: is "${m.id}", not its key "${key}"`;
    if (m.parentId !== null && PROTOTYPE_NAMES.has(m.parentId)) {
      return `messages.${key}.parentId: "${m.parentId}" is not a usable id`;
    }
    if (m.parentId !== null && !Object.hasOwn(c.messages, m.parentId)) {
      return `messages.${key}.parentId: no message "${m.parentId}" in this conversation`;
    }
    const list = below.get(m.parentId);
    if (list) list.push(key);
    else below.set(m.parentId, [key]);
  }
  if (c.currentLeaf !== null && !Object.hasOwn(c.messages, c.currentLeaf)) {
    return `currentLeaf: no message "${c.currentLeaf}" in this conversation`;
  }
  let reached = 0;
  const queue = [...(below.get(null) ?? [])];
  while (queue.length > 0) {
    const id = queue.pop()!;
    reached++;
    for (const child of below.get(id) ?? []) queue.push(child);
  }
  const total = Object.keys(c.messages).length;
  if (reached < total) {
    const looping = Object.keys(c.messages).find((id) => !reachedFromRoot(c, id));
    return `messages.${looping}.parentId: its parents lead round in a cycle`;
  }
  return null;
}

/** Walks up from `id` at most once per message; false when the walk never reaches a root. */
function reachedFromRoot(c: CheckedConversation, id: string): boolean {
  let steps = 0;
  const total = Object.keys(c.messages).length;
  for (let at: string | null = id; at !== null; at = c.messages[at].parentId) {
    if (++steps > total) return false;
  }
  return true;
}
