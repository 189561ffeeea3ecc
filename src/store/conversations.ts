// Conversations in IndexedDB (through an idb-keyval custom store): one record per conversation
// holding its whole message tree, so branches from regenerate and edit-and-resend survive.
import { createStore, del, get, set, values, type UseStore } from 'idb-keyval';
import { GREEDY, type SamplingOptions, type StopReason } from '../engine/engine';

export type MessageRole = 'user' | 'assistant';

/** How an answer ended: the engine's reasons, or 'stopped' when the person pressed stop. */
export type AnswerStopReason = Exclude<StopReason, 'aborted'> | 'stopped' | 'error';

export interface AnswerStats {
  promptTokens: number;
  generatedTokens: number;
  tokensPerSecond: number;
  stopReason: AnswerStopReason;
  /** Older turns left out because the conversation no longer fitted the context. */
  droppedMessages?: number;
  error?: string;
}

export interface StoredMessage {
  id: string;
  parentId: string | null;
  role: MessageRole;
  content: string;
  createdAt: number;
  modelId?: string;
  stats?: AnswerStats;
}

export interface Conversation {
  id: string;
  title: string;
  systemPrompt: string;
  sampling: SamplingOptions;
  maxTokens: number;
  modelId: string | null;
  messages: Record<string, StoredMessage>;
  /** The last message of the branch on screen; null for an empty conversation. */
  currentLeaf: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface ConversationSummary {
  id: string;
  title: string;
  updatedAt: number;
  messageCount: number;
}

export const DEFAULT_SYSTEM_PROMPT = 'You are a helpful assistant.';
export const DEFAULT_MAX_TOKENS = 512;
const EXPORT_FORMAT = 'layerwise-conversation';
const EXPORT_VERSION = 1;

export function newConversation(
  init: Partial<Pick<Conversation, 'title' | 'systemPrompt' | 'sampling' | 'modelId'>> = {},
  now = Date.now(),
): Conversation {
  return {
    id: crypto.randomUUID(),
    title: init.title ?? 'New conversation',
    systemPrompt: init.systemPrompt ?? DEFAULT_SYSTEM_PROMPT,
    sampling: { ...(init.sampling ?? GREEDY) },
    maxTokens: DEFAULT_MAX_TOKENS,
    modelId: init.modelId ?? null,
    messages: {},
    currentLeaf: null,
    createdAt: now,
    updatedAt: now,
  };
}

export class ConversationStore {
  private readonly db: UseStore;

  constructor(db: UseStore = createStore('layerwise-conversations', 'conversations')) {
    this.db = db;
  }

  async list(): Promise<ConversationSummary[]> {
    const all = await values<Conversation>(this.db);
    return all.map(summarize).sort((a, b) => b.updatedAt - a.updatedAt);
  }

  get(id: string): Promise<Conversation | undefined> {
    return get<Conversation>(id, this.db);
  }

  /** Stores a snapshot: the caller's object may be a reactive proxy, which IndexedDB cannot clone. */
  save(conversation: Conversation): Promise<void> {
    return set(conversation.id, JSON.parse(JSON.stringify(conversation)), this.db);
  }

  delete(id: string): Promise<void> {
    return del(id, this.db);
  }

  async rename(id: string, title: string, now = Date.now()): Promise<Conversation> {
    const conversation = await this.get(id);
    if (!conversation)
      throw new Error(`No conversation ${id}: it may have been deleted in another tab.`);
    conversation.title = title.trim() || conversation.title;
    conversation.updatedAt = now;
    await this.save(conversation);
    return conversation;
  }

  /** Case-insensitive match on titles and on the text of every message, branches included. */
  async search(query: string): Promise<ConversationSummary[]> {
    const needle = query.trim().toLowerCase();
    const all = await values<Conversation>(this.db);
    return all
      .filter(
        (c) =>
          !needle ||
          c.title.toLowerCase().includes(needle) ||
          Object.values(c.messages).some((m) => m.content.toLowerCase().includes(needle)),
      )
      .map(summarize)
      .sort((a, b) => b.updatedAt - a.updatedAt);
  }

  /** Adds an exported conversation; an id already in use gets a fresh one so nothing is overwritten. */
  async import(text: string): Promise<Conversation> {
    const conversation = parseExport(text);
    if (await this.get(conversation.id)) conversation.id = crypto.randomUUID();
    await this.save(conversation);
    return conversation;
  }
}

function summarize(c: Conversation): ConversationSummary {
  return {
    id: c.id,
    title: c.title,
    updatedAt: c.updatedAt,
    messageCount: Object.keys(c.messages).length,
  };
}

export function exportJson(conversation: Conversation): string {
  return JSON.stringify({ format: EXPORT_FORMAT, version: EXPORT_VERSION, conversation }, null, 2);
}

/** Reads an export back, refusing anything that is not one, so a wrong file never lands half-read. */
export function parseExport(text: string): Conversation {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(
      'This file is not JSON: choose a conversation exported from Layerwise (.json).',
    );
  }
  const envelope = data as { format?: unknown; version?: unknown; conversation?: unknown };
  if (envelope?.format !== EXPORT_FORMAT) {
    throw new Error('This JSON is not a Layerwise conversation export.');
  }
  if (envelope.version !== EXPORT_VERSION) {
    throw new Error(
      `This export has version ${String(envelope.version)}; this app reads version ${EXPORT_VERSION}.`,
    );
  }
  const c = envelope.conversation as Conversation;
  const problem = validate(c);
  if (problem) throw new Error(`The conversation in this file is damaged: ${problem}.`);
  return c;
}

function validate(c: Conversation): string | null {
  if (!c || typeof c !== 'object') return 'no conversation object';
  if (typeof c.id !== 'string' || typeof c.title !== 'string') return 'id or title missing';
  if (typeof c.systemPrompt !== 'string') return 'system prompt missing';
  if (!c.sampling || typeof c.sampling.temperature !== 'number') return 'sampling settings missing';
  if (!c.messages || typeof c.messages !== 'object') return 'messages missing';
  for (const [id, m] of Object.entries(c.messages)) {
    if (m.id !== id) return `message ${id} has a different id inside`;
    if (m.role !== 'user' && m.role !== 'assistant') return `message ${id} has role ${m.role}`;
    if (typeof m.content !== 'string') return `message ${id} has no text`;
    if (m.parentId !== null && !c.messages[m.parentId]) return `message ${id} has a missing parent`;
  }
  if (c.currentLeaf !== null && !c.messages[c.currentLeaf]) return 'the current message is missing';
  return null;
}

/** The branch on screen as Markdown: what a person would paste into a note. */
export function exportMarkdown(conversation: Conversation): string {
  const path = currentPath(conversation);
  const parts = [`# ${conversation.title}`, ''];
  if (conversation.systemPrompt) parts.push(`**System:** ${conversation.systemPrompt}`, '');
  for (const m of path) {
    parts.push(`## ${m.role === 'user' ? 'User' : 'Assistant'}`, '', m.content, '');
    if (m.stats?.stopReason === 'stopped') parts.push('_(stopped)_', '');
  }
  return parts.join('\n');
}

// The message tree. Siblings share a parent; the conversation shows one path from a root to
// `currentLeaf`, and switching a branch follows each message's newest child down to a leaf.

export function pathTo(conversation: Conversation, leafId: string | null): StoredMessage[] {
  const path: StoredMessage[] = [];
  for (let id = leafId; id !== null;) {
    const message = conversation.messages[id];
    if (!message) break;
    path.push(message);
    id = message.parentId;
  }
  return path.reverse();
}

export function currentPath(conversation: Conversation): StoredMessage[] {
  return pathTo(conversation, conversation.currentLeaf);
}

/** Oldest first; messages made in the same millisecond keep the order they were added in. */
export function children(conversation: Conversation, parentId: string | null): StoredMessage[] {
  return Object.values(conversation.messages)
    .filter((m) => m.parentId === parentId)
    .sort((a, b) => a.createdAt - b.createdAt);
}

/** The message's siblings including itself, oldest first, and its position among them. */
export function siblings(
  conversation: Conversation,
  messageId: string,
): { list: StoredMessage[]; index: number } {
  const message = conversation.messages[messageId];
  const list = children(conversation, message.parentId);
  return { list, index: list.findIndex((m) => m.id === messageId) };
}

/** Adds a message under `parentId` and makes it the current leaf. */
export function addMessage(
  conversation: Conversation,
  parentId: string | null,
  message: Pick<StoredMessage, 'role' | 'content'> & Partial<StoredMessage>,
  now = Date.now(),
): StoredMessage {
  if (parentId !== null && !conversation.messages[parentId]) {
    throw new Error(`Cannot reply to message ${parentId}: it is not in this conversation.`);
  }
  const stored: StoredMessage = {
    ...message,
    id: message.id ?? crypto.randomUUID(),
    parentId,
    createdAt: now,
  };
  conversation.messages[stored.id] = stored;
  conversation.currentLeaf = stored.id;
  conversation.updatedAt = now;
  return stored;
}

/** Shows the branch through `messageId`, down its newest descendants. */
export function selectBranch(conversation: Conversation, messageId: string): void {
  let leaf = messageId;
  for (;;) {
    const below = children(conversation, leaf);
    if (below.length === 0) break;
    leaf = below[below.length - 1].id;
  }
  conversation.currentLeaf = leaf;
}

/** Moves to the previous (-1) or next (+1) sibling of a message on the current path. */
export function switchSibling(conversation: Conversation, messageId: string, step: -1 | 1): void {
  const { list, index } = siblings(conversation, messageId);
  const target = list[index + step];
  if (target) selectBranch(conversation, target.id);
}
