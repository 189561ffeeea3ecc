// Conversations in IndexedDB (through an idb-keyval custom store): one record per conversation
// holding its whole message tree, so branches from regenerate and edit-and-resend survive.
import { createStore, del, delMany, entries, get, keys, set, type UseStore } from 'idb-keyval';
import { GREEDY, type SamplingOptions, type StopReason } from '../engine/engine';
import { describeDroppedSources, sourceLabel } from '../documents/prompt';
import { checkConversation } from './conversation-schema';
import { formatBytes } from './errors';

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

/** A chunk an answer cites, kept with the answer so its citation reads the same later. */
export interface CitedSource {
  documentId: string;
  documentName: string;
  /** The chunk's index in its document. */
  index: number;
  /** Character offsets of the chunk in its document's text. */
  start: number;
  end: number;
  page?: number;
  headings: string[];
  text: string;
}

/** What retrieval gave an answer: its numbered sources, in citation order. */
export interface AnswerRetrieval {
  sources: CitedSource[];
  /** Matching chunks left out because they did not fit the context. */
  dropped: number;
  /** The chunks were the reply; no answer was generated. */
  searchOnly: boolean;
}

export interface StoredMessage {
  id: string;
  parentId: string | null;
  role: MessageRole;
  content: string;
  createdAt: number;
  modelId?: string;
  stats?: AnswerStats;
  retrieval?: AnswerRetrieval;
}

/** The documents a conversation's questions are answered from. */
export interface AttachedDocuments {
  /** Stored document ids, or 'all': every stored document when each question is asked. */
  documents: string[] | 'all';
  /** Questions return the matching chunks without generating an answer. */
  searchOnly: boolean;
}

export interface Conversation {
  id: string;
  title: string;
  /** This conversation's own system prompt; null uses the one in Settings (empty by default). */
  systemPrompt: string | null;
  sampling: SamplingOptions;
  maxTokens: number;
  modelId: string | null;
  messages: Record<string, StoredMessage>;
  /** The last message of the branch on screen; null for an empty conversation. */
  currentLeaf: string | null;
  createdAt: number;
  updatedAt: number;
  /** Absent when the conversation has no documents attached. */
  attached?: AttachedDocuments;
}

export interface ConversationSummary {
  id: string;
  title: string;
  updatedAt: number;
  messageCount: number;
}

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
    systemPrompt: init.systemPrompt ?? null,
    sampling: { ...(init.sampling ?? GREEDY) },
    maxTokens: DEFAULT_MAX_TOKENS,
    modelId: init.modelId ?? null,
    messages: {},
    currentLeaf: null,
    createdAt: now,
    updatedAt: now,
  };
}

/** The largest export file read: a conversation past this is refused before it is read. */
export const MAX_IMPORT_BYTES = 32 * 1024 * 1024;

/**
 * Conversations in one database, their list entries in another: the list and the start of the
 * Chat view read only the small summaries, and a conversation's messages are read when it opens.
 */
export class ConversationStore {
  private readonly db: UseStore;
  private readonly summaries: UseStore;

  constructor(name = 'layerwise-conversations') {
    this.db = createStore(name, 'conversations');
    this.summaries = createStore(`${name}-summaries`, 'summaries');
  }

  /** Newest first, from the summaries alone; conversations without one (older data) get one. */
  async list(): Promise<ConversationSummary[]> {
    const [ids, listed] = await Promise.all([
      keys<string>(this.db),
      entries<string, ConversationSummary>(this.summaries),
    ]);
    const byId = new Map(listed);
    const found: ConversationSummary[] = [];
    for (const id of ids) {
      let summary = byId.get(id);
      if (!summary) {
        summary = await this.summarizeStored(id);
        if (!summary) continue;
      }
      found.push(summary);
      byId.delete(id);
    }
    // Summaries whose conversation is gone: a delete interrupted between the two databases.
    if (byId.size > 0) await delMany([...byId.keys()], this.summaries);
    return found.sort((a, b) => b.updatedAt - a.updatedAt);
  }

  /** The conversation, checked; throws naming the damaged field when the stored record is wrong. */
  async get(id: string): Promise<Conversation | undefined> {
    const raw = await get<unknown>(id, this.db);
    if (raw === undefined) return undefined;
    const checked = checkConversation(raw);
    if ('problem' in checked) {
      throw new Error(
        `The stored conversation ${id} is damaged (${checked.problem}). Export it, delete it, ` +
          'and import a corrected copy.',
      );
    }
    return checked.conversation as Conversation;
  }

  /** Stores a snapshot: the caller's object may be a reactive proxy, which IndexedDB cannot clone. */
  async save(conversation: Conversation): Promise<void> {
    const snapshot = JSON.parse(JSON.stringify(conversation)) as Conversation;
    await set(snapshot.id, snapshot, this.db);
    await set(snapshot.id, summarize(snapshot), this.summaries);
  }

  async delete(id: string): Promise<void> {
    await del(id, this.db);
    await del(id, this.summaries);
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

  /**
   * Case-insensitive match on titles and on the text of every message, branches included. Reads
   * one conversation at a time, so a search never holds the whole history.
   */
  async search(query: string): Promise<ConversationSummary[]> {
    const needle = query.trim().toLowerCase();
    const all = await this.list();
    if (!needle) return all;
    const matching: ConversationSummary[] = [];
    for (const summary of all) {
      if (summary.title.toLowerCase().includes(needle)) {
        matching.push(summary);
        continue;
      }
      const raw = await get<Partial<Conversation>>(summary.id, this.db);
      const messages = raw?.messages && typeof raw.messages === 'object' ? raw.messages : {};
      const hit = Object.values(messages).some(
        (m) => typeof m?.content === 'string' && m.content.toLowerCase().includes(needle),
      );
      if (hit) matching.push(summary);
    }
    return matching;
  }

  /** Adds an exported conversation; an id already in use gets a fresh one so nothing is overwritten. */
  async import(text: string): Promise<Conversation> {
    const conversation = parseExport(text);
    if (await get(conversation.id, this.db)) conversation.id = crypto.randomUUID();
    await this.save(conversation);
    return conversation;
  }

  /** Reads an export file, refusing one too large to be a conversation before reading it. */
  async importFile(file: Blob): Promise<Conversation> {
    if (file.size > MAX_IMPORT_BYTES) {
      throw new Error(
        `This file is ${formatBytes(file.size)}; a conversation export may be at most ` +
          `${formatBytes(MAX_IMPORT_BYTES)}. Choose a single exported conversation.`,
      );
    }
    return this.import(await file.text());
  }

  private async summarizeStored(id: string): Promise<ConversationSummary | undefined> {
    const raw = await get<unknown>(id, this.db);
    const checked = checkConversation(raw);
    const summary =
      'conversation' in checked
        ? summarize(checked.conversation as Conversation)
        : { id, title: `Damaged conversation ${id}`, updatedAt: 0, messageCount: 0 };
    await set(id, summary, this.summaries);
    return summary;
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
  if (text.length > MAX_IMPORT_BYTES) {
    throw new Error(
      `This export is larger than ${formatBytes(MAX_IMPORT_BYTES)}: choose a single exported conversation.`,
    );
  }
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
  const checked = checkConversation(envelope.conversation);
  if ('problem' in checked) {
    throw new Error(
      `The conversation in this file is damaged, so nothing was imported: ${checked.problem}.`,
    );
  }
  return checked.conversation as Conversation;
}

/** The branch on screen as Markdown: what a person would paste into a note. */
export function exportMarkdown(conversation: Conversation): string {
  const path = currentPath(conversation);
  const parts = [`# ${conversation.title}`, ''];
  if (conversation.systemPrompt) parts.push(`**System:** ${conversation.systemPrompt}`, '');
  for (const m of path) {
    parts.push(`## ${m.role === 'user' ? 'User' : 'Assistant'}`, '');
    if (m.content) parts.push(m.content, '');
    if (m.stats?.stopReason === 'stopped') parts.push('_(stopped)_', '');
    if (m.retrieval) parts.push(...retrievalMarkdown(m.retrieval));
  }
  return parts.join('\n');
}

function retrievalMarkdown(retrieval: AnswerRetrieval): string[] {
  const heading = retrieval.searchOnly ? '**Matching chunks:**' : '**Sources:**';
  const lines = retrieval.sources.map((s, i) => `${i + 1}. ${sourceLabel(s)}`);
  if (retrieval.dropped > 0) lines.push('', `_${describeDroppedSources(retrieval.dropped)}_`);
  return [heading, '', ...lines, ''];
}

// The message tree. Siblings share a parent; the conversation shows one path from a root to
// `currentLeaf`, and switching a branch follows each message's newest child down to a leaf.

/**
 * Root first. The walk takes at most one step per message, so a tree that loops (refused when
 * read, but a caller may hand in anything) ends instead of spinning.
 */
export function pathTo(conversation: Conversation, leafId: string | null): StoredMessage[] {
  const path: StoredMessage[] = [];
  const limit = Object.keys(conversation.messages).length;
  for (let id = leafId; id !== null && path.length < limit;) {
    const message = messageOf(conversation, id);
    if (!message) break;
    path.push(message);
    id = message.parentId;
  }
  return path.reverse();
}

/** The message with this id; never an `Object.prototype` member standing in for one. */
function messageOf(conversation: Conversation, id: string): StoredMessage | undefined {
  return Object.hasOwn(conversation.messages, id) ? conversation.messages[id] : undefined;
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
  const message = messageOf(conversation, messageId);
  if (!message) return { list: [], index: -1 };
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
  if (parentId !== null && !messageOf(conversation, parentId)) {
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
  for (let depth = Object.keys(conversation.messages).length; depth > 0; depth--) {
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
