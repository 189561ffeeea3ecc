// The Documents view's state: stored documents, adding files or pasted text through the documents
// worker (read, chunk, embed) with progress and cancel, and asking questions over the chosen
// documents by hybrid search, answered by the chat's model with numbered citations.
import { DocumentsClient, type IngestStage } from '../../engine/documents-client';
import { GREEDY } from '../../engine/engine';
import { DEFAULT_CHUNK_TOKENS, DEFAULT_OVERLAP_FRACTION } from '../../documents/chunk';
import { documentKind } from '../../documents/kinds';
import {
  citationParts,
  fitSources,
  sourceLabel,
  type AnswerPart,
  type PromptMessage,
} from '../../documents/prompt';
import { answerRoom } from '../../engine/context-fit';
import { DEFAULT_SEARCH } from '../../documents/defaults';
import type { ChunkIndex, SearchHit } from '../../documents/search';
import { DocumentStore, type DocumentRecord, type StoredChunk } from '../../store/documents';
import { ModelLibrary } from '../../store/models';
import { session } from '../session.svelte';

const SETTINGS_KEY = 'layerwise:documents';

export interface DocumentSettings {
  embeddingModelId: string | null;
  chunkTokens: number;
  overlapTokens: number;
  topK: number;
  similarityFloor: number;
  answerTokens: number;
}

export const DEFAULT_DOCUMENT_SETTINGS: DocumentSettings = {
  embeddingModelId: null,
  chunkTokens: DEFAULT_CHUNK_TOKENS,
  overlapTokens: Math.round(DEFAULT_CHUNK_TOKENS * DEFAULT_OVERLAP_FRACTION),
  topK: DEFAULT_SEARCH.topK,
  similarityFloor: DEFAULT_SEARCH.similarityFloor,
  answerTokens: 384,
};

function loadSettings(): DocumentSettings {
  try {
    const raw = globalThis.localStorage?.getItem(SETTINGS_KEY);
    return { ...DEFAULT_DOCUMENT_SETTINGS, ...(raw ? JSON.parse(raw) : {}) };
  } catch {
    return { ...DEFAULT_DOCUMENT_SETTINGS };
  }
}

export interface IngestJob {
  name: string;
  stage: IngestStage | 'queued';
  done: number;
  total: number;
}

export type ChunkHit = SearchHit<StoredChunk & { documentName: string }>;

export interface Answer {
  question: string;
  hits: ChunkHit[];
  /** The sources given to the model, in citation order; empty in search-only mode. */
  sources: ChunkHit[];
  dropped: number;
  text: string;
  parts: AnswerPart[];
  searchOnly: boolean;
  done: boolean;
}

/** What locates a chunk in its document: a stored chunk, or a source an answer kept. */
export type ChunkRef = Pick<StoredChunk, 'documentId' | 'start' | 'end' | 'page' | 'headings'>;

/** A chunk opened in its document, as the chunk viewer shows it. */
export interface OpenChunk {
  documentId: string;
  /** Where the chunk sits: the document, then its page or heading path. */
  label: string;
  text: string;
  before: string;
  after: string;
}

/** How much of the document the viewer shows on each side of the chunk. */
const CONTEXT_CHARS = 600;

export const DOCUMENT_GONE = 'That document is no longer stored.';

export function nothingFits(matching: number, contextTokens: number): string {
  return `None of the ${matching} matching chunks fits the chat model's ${contextTokens}-token context; load it with a longer context or use search only.`;
}

export class DocumentsState {
  documents = $state.raw<DocumentRecord[]>([]);
  models = $state.raw<{ id: string; name: string }[]>([]);
  settings = $state<DocumentSettings>(loadSettings());
  job = $state<IngestJob | null>(null);
  queue = $state.raw<{ name: string; blob: Blob }[]>([]);
  notice = $state<{ tone: 'info' | 'error'; text: string } | null>(null);
  /** Documents questions are asked over; empty means all. */
  selected = $state.raw<string[]>([]);
  answer = $state<Answer | null>(null);
  asking = $state(false);
  opened = $state.raw<OpenChunk | null>(null);
  private controller: AbortController | null = null;
  private index: { key: string; index: ChunkIndex<StoredChunk & { documentName: string }> } | null =
    null;

  constructor(
    private readonly store = new DocumentStore(),
    private readonly client = new DocumentsClient(),
    private readonly library = new ModelLibrary(),
  ) {}

  async refresh(): Promise<void> {
    // An add in progress has written chunks its record does not list yet: sweep only when idle.
    if (this.job === null) await this.store.sweep();
    this.documents = await this.store.list();
    const manifests = await this.library.list();
    this.models = manifests
      .filter((m) => m.state === 'complete')
      .map((m) => ({ id: m.id, name: m.name }));
    if (!this.settings.embeddingModelId && this.models.length === 1) {
      this.settings.embeddingModelId = this.models[0].id;
    }
  }

  saveSettings(): void {
    try {
      globalThis.localStorage?.setItem(SETTINGS_KEY, JSON.stringify(this.settings));
    } catch {
      // Private modes may refuse storage; the settings then last for this visit only.
    }
  }

  /** Queues files (or pasted text) and works through the queue one at a time. */
  add(items: { name: string; blob: Blob }[]): void {
    const refused = items.filter((i) => !documentKind(i.name));
    if (refused.length) {
      this.notice = {
        tone: 'error',
        text: `${refused.map((r) => `"${r.name}"`).join(', ')}: not a kind of file Layerwise reads; add .txt, .md, .html, .pdf, .docx or source files.`,
      };
    }
    this.queue = [...this.queue, ...items.filter((i) => documentKind(i.name))];
    if (!this.job) void this.next();
  }

  addText(name: string, text: string): void {
    const title =
      name.trim() ||
      `Pasted text ${new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'short' }).format(Date.now())}`;
    this.add([{ name: /\.\w+$/.test(title) ? title : `${title}.txt`, blob: new Blob([text]) }]);
  }

  private async next(): Promise<void> {
    const item = this.queue[0];
    if (!item) {
      this.job = null;
      return;
    }
    this.queue = this.queue.slice(1);
    const modelId = this.settings.embeddingModelId;
    if (!modelId) {
      this.notice = {
        tone: 'error',
        text: 'Choose an embedding model first (import an embedding GGUF in Storage).',
      };
      this.queue = [];
      this.job = null;
      return;
    }
    this.job = { name: item.name, stage: 'queued', done: 0, total: 1 };
    const controller = new AbortController();
    this.controller = controller;
    try {
      const doc = await this.client.ingest(
        {
          ...item,
          modelId,
          chunking: {
            maxTokens: this.settings.chunkTokens,
            overlapTokens: this.settings.overlapTokens,
          },
        },
        (stage, done, total) => (this.job = { name: item.name, stage, done, total }),
        controller.signal,
      );
      const record = await this.store.add(
        {
          name: item.name,
          kind: doc.kind,
          bytes: item.blob.size,
          ...(doc.pages !== undefined ? { pages: doc.pages } : {}),
          embedding: doc.embedding,
        },
        doc.text,
        doc.chunks,
      );
      this.notice = {
        tone: 'info',
        text: `Added "${record.name}": ${record.chunkCount} chunk${record.chunkCount === 1 ? '' : 's'}.`,
      };
      this.documents = await this.store.list();
      this.index = null;
    } catch (error) {
      this.notice = { tone: 'error', text: (error as Error).message };
    } finally {
      this.controller = null;
    }
    await this.next();
  }

  cancel(): void {
    this.queue = [];
    this.controller?.abort();
  }

  async remove(id: string): Promise<void> {
    const doc = this.documents.find((d) => d.id === id);
    await this.store.remove(id);
    this.documents = await this.store.list();
    this.selected = this.selected.filter((s) => s !== id);
    this.index = null;
    if (this.opened?.documentId === id) this.opened = null;
    this.notice = {
      tone: 'info',
      text: `Deleted "${doc?.name ?? id}" with its chunks and vectors.`,
    };
  }

  toggle(id: string): void {
    this.selected = this.selected.includes(id)
      ? this.selected.filter((s) => s !== id)
      : [...this.selected, id];
  }

  private async chunkIndex(docs: DocumentRecord[]) {
    const key = docs.map((d) => d.id).join(',');
    if (this.index?.key === key) return this.index.index;
    const names: Record<string, string> = Object.fromEntries(docs.map((d) => [d.id, d.name]));
    const chunks = (await this.store.chunksOf(docs.map((d) => d.id))).map((c) => ({
      ...c,
      documentName: names[c.documentId] ?? '',
    }));
    // The search library loads on the first question, not with the page.
    const { ChunkIndex } = await import('../../documents/search');
    const index = await ChunkIndex.build(chunks);
    this.index = { key, index };
    return index;
  }

  /** Every stored document, newest first (the chat's attach list reads it too). */
  async list(): Promise<DocumentRecord[]> {
    this.documents = await this.store.list();
    return this.documents;
  }

  /**
   * The best chunks of `docs` for a question, by hybrid search with the page's top-k and
   * similarity floor. Documents embedded by different models cannot be searched together.
   */
  async search(docs: DocumentRecord[], question: string): Promise<ChunkHit[]> {
    if (docs.length === 0) return [];
    const models = docs.map((d) => d.embedding.id).filter((id, i, all) => all.indexOf(id) === i);
    if (models.length > 1) {
      throw new Error(
        'These documents were embedded by different models; ask over documents of one embedding model at a time.',
      );
    }
    const index = await this.chunkIndex(docs);
    const [vector] = await this.client.embed(models[0], [question]);
    return index.search(question, vector, {
      topK: this.settings.topK,
      similarityFloor: this.settings.similarityFloor,
    });
  }

  async ask(question: string, searchOnly: boolean): Promise<void> {
    const docs = this.selected.length
      ? this.documents.filter((d) => this.selected.includes(d.id))
      : this.documents;
    if (!question.trim() || docs.length === 0) return;
    this.asking = true;
    this.notice = null;
    const answer: Answer = {
      question,
      hits: [],
      sources: [],
      dropped: 0,
      text: '',
      parts: [],
      searchOnly,
      done: false,
    };
    this.answer = answer;
    try {
      const hits = await this.search(docs, question);
      this.answer = { ...answer, hits };
      if (searchOnly || hits.length === 0) {
        this.answer = { ...this.answer, done: true };
        return;
      }
      const engine = await session.ensureLoaded();
      const answerTokens = answerRoom(engine.contextTokens, this.settings.answerTokens);
      const fitted = await fitSources(
        question,
        hits.map((h) => ({ ...h.chunk, hit: h })),
        engine.contextTokens - answerTokens,
        (messages) => this.countPromptTokens(messages),
      );
      if (fitted.used.length === 0) throw new Error(nothingFits(hits.length, engine.contextTokens));
      const sources = fitted.used.map((s) => s.hit);
      this.answer = { ...this.answer, sources, dropped: fitted.dropped.length };
      let text = '';
      for await (const event of engine.chat(fitted.messages, {
        maxTokens: answerTokens,
        sampling: GREEDY,
      })) {
        if (event.type !== 'token') continue;
        text += event.text;
        this.answer = { ...this.answer, text, parts: citationParts(text, sources.length) };
      }
      this.answer = { ...this.answer, done: true };
    } catch (error) {
      this.notice = { tone: 'error', text: (error as Error).message };
      if (this.answer) this.answer = { ...this.answer, done: true };
    } finally {
      this.asking = false;
    }
  }

  /**
   * Counts a prompt's tokens: exactly, through a GGUF chat model's own template (read in the
   * documents worker); for other engines, by its UTF-8 bytes, which no tokenizer exceeds (every
   * token but a special one covers at least one byte), plus room for the template's markers.
   */
  countPromptTokens(messages: PromptMessage[]): Promise<number> {
    const choice = session.choice;
    if (choice?.kind === 'gguf') return this.client.countChatTokens(choice.source, messages);
    const encoder = new TextEncoder();
    return Promise.resolve(messages.reduce((n, m) => n + encoder.encode(m.content).length + 16, 0));
  }

  /** A chunk in its document: its text in place, with what surrounds it; null once deleted. */
  async read(chunk: ChunkRef): Promise<OpenChunk | null> {
    const document = await this.store.get(chunk.documentId);
    const text = await this.store.text(chunk.documentId);
    if (!document || text === undefined) return null;
    return {
      documentId: document.id,
      label: sourceLabel({ ...chunk, documentName: document.name }),
      text: text.slice(chunk.start, chunk.end),
      before: text.slice(Math.max(0, chunk.start - CONTEXT_CHARS), chunk.start),
      after: text.slice(chunk.end, chunk.end + CONTEXT_CHARS),
    };
  }

  async open(chunk: ChunkRef): Promise<void> {
    const opened = await this.read(chunk);
    if (!opened) this.notice = { tone: 'error', text: DOCUMENT_GONE };
    else this.opened = opened;
  }
}

export const documentsState = new DocumentsState();
