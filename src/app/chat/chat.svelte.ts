// The Chat view's state: the conversation list, the open conversation's tree, the documents it has
// attached, and the answer being streamed. The streaming answer lives apart from the stored
// messages so that each token updates one small object, not the list of every message on screen.
import type { ChatEngine, ChatMessage, SamplingOptions } from '../../engine/engine';
import {
  ConversationStore,
  addMessage,
  currentPath,
  exportJson,
  exportMarkdown,
  newConversation,
  pathTo,
  switchSibling,
  type AnswerRetrieval,
  type AnswerStats,
  type AttachedDocuments,
  type CitedSource,
  type Conversation,
  type ConversationSummary,
  type StoredMessage,
} from '../../store/conversations';
import { toEngineFailure } from '../../engine/messages';
import { describeDropped } from './context';
import { describeDroppedSources } from '../../documents/prompt';
import type { DocumentRecord } from '../../store/documents';
import { DOCUMENT_GONE, type ChunkHit, type OpenChunk } from '../documents/documents.svelte';
import {
  citedSource,
  groundedRequest,
  modelTurns,
  resolveAttached,
  type ChatDocuments,
} from './grounding';

export interface StreamingAnswer {
  parentId: string;
  /** Searching the attached documents, then answering. */
  stage: 'search' | 'answer';
  text: string;
  tokens: number;
  startedAt: number;
}

export interface EngineProvider {
  ensureLoaded(): Promise<ChatEngine>;
  readonly choice: { id: string; label: string } | null;
  /** Drops a loaded engine that can no longer work (its GPU device was lost). */
  release?(): Promise<void>;
  /** Told each finished answer's decode speed, to show beside the plan's prediction. */
  recordDecode?(tokensPerSecond: number): void;
}

export type ConversationSettings = Pick<Conversation, 'systemPrompt' | 'maxTokens'> & {
  sampling: SamplingOptions;
};

export const NOTHING_ATTACHED =
  'None of the documents attached to this conversation is stored any more: attach others, or detach them to chat without documents.';
export const NO_MATCH =
  'No chunk of the attached documents matches the question; the model answered without sources.';

/** The longest title taken from a first message; the list wraps it rather than cutting it. */
export const TITLE_CHARS = 80;

function titleFrom(content: string): string {
  const oneLine = content.replace(/\s+/g, ' ').trim();
  if (oneLine.length <= TITLE_CHARS) return oneLine;
  const cut = oneLine.slice(0, TITLE_CHARS);
  const space = cut.lastIndexOf(' ');
  return `${space > TITLE_CHARS / 2 ? cut.slice(0, space) : cut}…`;
}

export class ChatState {
  list = $state.raw<ConversationSummary[]>([]);
  query = $state('');
  conversation = $state<Conversation | null>(null);
  streaming = $state<StreamingAnswer | null>(null);
  /** What the last turn had to leave out to fit the context, or why it failed. */
  notice = $state<{ tone: 'info' | 'warning' | 'error'; text: string } | null>(null);
  path = $derived(this.conversation ? currentPath(this.conversation) : []);
  /** Sibling positions for the branch arrows, recomputed when the tree changes (not per token). */
  branches = $derived.by(() => {
    const c = this.conversation;
    const info: Record<string, { index: number; count: number }> = {};
    if (!c) return info;
    // One pass over the tree, not one per message on the path: 5,000 messages stay cheap.
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a local index, rebuilt by the derivation, never state
    const byParent = new Map<string | null, StoredMessage[]>();
    for (const m of Object.values(c.messages)) {
      const list = byParent.get(m.parentId);
      if (list) list.push(m);
      else byParent.set(m.parentId, [m]);
    }
    for (const m of this.path) {
      const list = byParent.get(m.parentId) ?? [m];
      list.sort((a, b) => a.createdAt - b.createdAt);
      info[m.id] = { index: list.indexOf(m), count: list.length };
    }
    return info;
  });
  /** The stored documents, for attaching; read by `refreshDocuments`. */
  documents = $state.raw<DocumentRecord[]>([]);
  /** The open conversation's attached documents that are still stored. */
  attachment = $derived(resolveAttached(this.conversation?.attached, this.documents));
  /** The chunk a citation opened. */
  opened = $state.raw<OpenChunk | null>(null);
  private controller: AbortController | null = null;

  constructor(
    private readonly provider: EngineProvider,
    private readonly store = new ConversationStore(),
    /** The system prompt of conversations without their own (the one in Settings). */
    private readonly defaultSystemPrompt: () => Promise<string> = async () => '',
    private readonly library: ChatDocuments | null = null,
  ) {}

  get busy(): boolean {
    return this.streaming !== null;
  }

  async refreshList(): Promise<void> {
    this.list = await this.store.search(this.query);
  }

  /** False when there is no such conversation, or when it is damaged (the notice says how). */
  async open(id: string): Promise<boolean> {
    let found: Conversation | undefined;
    try {
      found = await this.store.get(id);
    } catch (error) {
      this.notice = { tone: 'error', text: error instanceof Error ? error.message : String(error) };
      return false;
    }
    if (!found) return false;
    this.stop();
    this.conversation = found;
    this.notice = null;
    this.opened = null;
    return true;
  }

  /** A new conversation, or the empty one already listed: empty ones never pile up. */
  async create(): Promise<Conversation> {
    if (this.conversation && this.path.length === 0) return this.conversation;
    const empty = this.list.find((c) => c.messageCount === 0);
    if (empty && (await this.open(empty.id))) return this.conversation!;
    this.stop();
    const conversation = newConversation({ modelId: this.provider.choice?.id ?? null });
    await this.store.save(conversation);
    this.conversation = conversation;
    this.notice = null;
    this.opened = null;
    await this.refreshList();
    return conversation;
  }

  async rename(id: string, title: string): Promise<void> {
    const renamed = await this.store.rename(id, title);
    if (this.conversation?.id === id) this.conversation.title = renamed.title;
    await this.refreshList();
  }

  async remove(id: string): Promise<void> {
    if (this.conversation?.id === id) {
      this.stop();
      this.conversation = null;
    }
    await this.store.delete(id);
    await this.refreshList();
  }

  async updateSettings(settings: ConversationSettings): Promise<void> {
    const c = this.conversation;
    if (!c) return;
    c.systemPrompt = settings.systemPrompt;
    c.maxTokens = settings.maxTokens;
    c.sampling = { ...settings.sampling };
    await this.persist();
  }

  async send(text: string): Promise<void> {
    const content = text.trim();
    if (!content || this.busy) return;
    const c = this.conversation ?? (await this.create());
    const user = addMessage(c, c.currentLeaf, { role: 'user', content });
    if (c.title === 'New conversation') c.title = titleFrom(content);
    await this.persist();
    await this.answer(user.id);
  }

  /** A new answer to the same question, kept beside the old one as a sibling branch. */
  async regenerate(assistantId: string): Promise<void> {
    const c = this.conversation;
    const parentId = c?.messages[assistantId]?.parentId;
    if (!c || !parentId || this.busy) return;
    await this.answer(parentId);
  }

  /** The edited question becomes a sibling of the original, so the old branch stays reachable. */
  async editAndResend(userId: string, text: string): Promise<void> {
    const c = this.conversation;
    const original = c?.messages[userId];
    const content = text.trim();
    if (!c || !original || !content || this.busy) return;
    const edited = addMessage(c, original.parentId, { role: 'user', content });
    await this.persist();
    await this.answer(edited.id);
  }

  async switchBranch(messageId: string, step: -1 | 1): Promise<void> {
    if (!this.conversation || this.busy) return;
    switchSibling(this.conversation, messageId, step);
    await this.persist();
  }

  stop(): void {
    this.controller?.abort();
  }

  async refreshDocuments(): Promise<void> {
    if (this.library) this.documents = await this.library.list();
  }

  /** Attaches documents (ids, or 'all' for the whole collection) to the open conversation. */
  async attach(documents: AttachedDocuments['documents']): Promise<void> {
    const c = this.conversation ?? (await this.create());
    if (Array.isArray(documents) && documents.length === 0) delete c.attached;
    else c.attached = { documents, searchOnly: c.attached?.searchOnly ?? false };
    await this.persist();
  }

  /** Detaches one document, or every one ('all'). */
  async detach(id: string | 'all'): Promise<void> {
    const attached = this.conversation?.attached;
    if (!attached) return;
    const ids = attached.documents;
    await this.attach(id === 'all' || ids === 'all' ? [] : ids.filter((d) => d !== id));
  }

  async setSearchOnly(searchOnly: boolean): Promise<void> {
    const c = this.conversation;
    if (!c?.attached) return;
    c.attached.searchOnly = searchOnly;
    await this.persist();
  }

  /** Opens a cited chunk in its document; false (with a notice) when the document is gone. */
  async openSource(source: CitedSource): Promise<boolean> {
    const opened = (await this.library?.read(source)) ?? null;
    this.opened = opened;
    if (!opened) this.notice = { tone: 'error', text: DOCUMENT_GONE };
    return opened !== null;
  }

  exportJson(): string | null {
    return this.conversation && exportJson($state.snapshot(this.conversation) as Conversation);
  }

  exportMarkdown(): string | null {
    return this.conversation && exportMarkdown($state.snapshot(this.conversation) as Conversation);
  }

  async importJson(text: string): Promise<Conversation> {
    return this.showImported(await this.store.import(text));
  }

  /** Imports an export file; one too large is refused before it is read. */
  async importFile(file: Blob): Promise<Conversation> {
    return this.showImported(await this.store.importFile(file));
  }

  private async showImported(imported: Conversation): Promise<Conversation> {
    this.stop();
    this.conversation = imported;
    this.opened = null;
    await this.refreshList();
    return imported;
  }

  /** Saves the open conversation, or the one an answer belongs to if the person switched away. */
  private async persist(c: Conversation | null = this.conversation): Promise<void> {
    if (!c) return;
    c.updatedAt = Date.now();
    await this.store.save($state.snapshot(c) as Conversation);
    await this.refreshList();
  }

  private async answer(parentId: string): Promise<void> {
    const c = this.conversation!;
    const controller = new AbortController();
    this.controller = controller;
    this.streaming = {
      parentId,
      stage: 'answer',
      text: '',
      tokens: 0,
      startedAt: performance.now(),
    };
    const live = this.streaming;
    this.notice = null;
    let stats: AnswerStats | undefined;
    let retrieval: AnswerRetrieval | undefined;
    const warnings: string[] = [];
    try {
      const systemPrompt = c.systemPrompt ?? (await this.defaultSystemPrompt());
      const turns = pathTo(c, parentId);
      const hits = await this.retrieve(c, turns.at(-1)!.content, live);
      if (controller.signal.aborted) throw new DOMException('Stopped before start', 'AbortError');
      if (hits && c.attached?.searchOnly) {
        retrieval = { sources: hits.map(citedSource), dropped: 0, searchOnly: true };
        return;
      }
      const engine = await this.provider.ensureLoaded();
      if (controller.signal.aborted) throw new DOMException('Stopped before start', 'AbortError');
      let system: ChatMessage[] = systemPrompt ? [{ role: 'system', content: systemPrompt }] : [];
      if (hits?.length) {
        live.stage = 'search';
        const grounded = await groundedRequest(this.library!, turns.at(-1)!.content, hits, {
          systemPrompt,
          contextTokens: engine.contextTokens,
          maxTokens: c.maxTokens,
        });
        live.stage = 'answer';
        system = [grounded.system];
        retrieval = grounded.retrieval;
        if (retrieval.dropped > 0) warnings.push(describeDroppedSources(retrieval.dropped));
      } else if (hits) {
        warnings.push(NO_MATCH);
      }
      if (warnings.length) this.notice = { tone: 'warning', text: warnings.join(' ') };
      // The engine fits the conversation into its context and says how many turns it left out.
      const events = engine.chat([...system, ...modelTurns(turns)], {
        maxTokens: c.maxTokens,
        sampling: $state.snapshot(c.sampling),
        signal: controller.signal,
      });
      for await (const event of events) {
        if (event.type === 'token') {
          live.text += event.text;
          // The GGUF engine sends leftover text with id -1; WebLLM sends no ids at all.
          if (event.id >= 0 || engine.kind === 'webllm') live.tokens += 1;
        } else {
          const s = event.stats;
          this.provider.recordDecode?.(s.decodeTokensPerSecond);
          if (s.droppedMessages > 0) {
            warnings.push(describeDropped(turns.slice(0, s.droppedMessages), engine.contextTokens));
            this.notice = { tone: 'warning', text: warnings.join(' ') };
          }
          stats = {
            promptTokens: s.promptTokens,
            generatedTokens: s.generatedTokens,
            tokensPerSecond: s.decodeTokensPerSecond,
            stopReason: s.stopReason === 'aborted' ? 'stopped' : s.stopReason,
            ...(s.droppedMessages > 0 ? { droppedMessages: s.droppedMessages } : {}),
          };
        }
      }
    } catch (error) {
      // A failed search or a prompt the sources cannot fit is told as it is; the rest is the engine's.
      const failure =
        live.stage === 'search'
          ? { kind: 'unknown' as const, message: (error as Error).message }
          : toEngineFailure(error);
      const seconds = (performance.now() - live.startedAt) / 1000;
      stats = {
        promptTokens: 0,
        generatedTokens: live.tokens,
        tokensPerSecond: seconds > 0 ? live.tokens / seconds : 0,
        stopReason: failure.kind === 'aborted' ? 'stopped' : 'error',
        ...(failure.kind === 'aborted' ? {} : { error: failure.message }),
      };
      if (failure.kind !== 'aborted') this.notice = { tone: 'error', text: failure.message };
      // The next message loads the model again on a fresh device.
      if (failure.kind === 'device-lost') await this.provider.release?.();
    } finally {
      const text = live.text;
      if (this.streaming === live) this.streaming = null;
      if (this.controller === controller) this.controller = null;
      // An answer stopped or failed before its first token leaves nothing worth keeping.
      const empty = !text && (stats?.stopReason === 'error' || stats?.stopReason === 'stopped');
      if (!empty) this.keepAnswer(c, parentId, text, stats, retrieval);
      await this.persist(c);
    }
  }

  /**
   * The best chunks of the attached documents for the question; null when none is attached. The
   * list is read again first: a document deleted since attaching is not searched.
   */
  private async retrieve(
    c: Conversation,
    question: string,
    live: StreamingAnswer,
  ): Promise<ChunkHit[] | null> {
    if (!c.attached || !this.library) return null;
    live.stage = 'search';
    await this.refreshDocuments();
    const { documents } = resolveAttached(c.attached, this.documents);
    if (documents.length === 0) throw new Error(NOTHING_ATTACHED);
    const hits = await this.library.search(documents, question);
    live.stage = 'answer';
    return hits;
  }

  private keepAnswer(
    c: Conversation,
    parentId: string,
    text: string,
    stats?: AnswerStats,
    retrieval?: AnswerRetrieval,
  ): void {
    const message: Pick<StoredMessage, 'role' | 'content'> & Partial<StoredMessage> = {
      role: 'assistant',
      content: text,
      ...(stats ? { stats } : {}),
      ...(retrieval ? { retrieval } : {}),
    };
    // A search-only reply came from no model.
    const model = retrieval?.searchOnly ? null : this.provider.choice;
    if (model) message.modelId = model.id;
    addMessage(c, parentId, message);
    if (model) c.modelId = model.id;
  }
}
