// Questions in a conversation with documents attached: the attachment resolved against the stored
// documents, the best chunks retrieved and fitted into the prompt as numbered sources within the
// loaded context (the rest dropped and counted), and the sources kept with the answer so its
// citations still open the right chunk after a reload or an export.
import type { ChatMessage } from '../../engine/engine';
import { answerRoom } from '../../engine/context-fit';
import { fitSources, type PromptMessage } from '../../documents/prompt';
import type { DocumentRecord } from '../../store/documents';
import type {
  AnswerRetrieval,
  AttachedDocuments,
  CitedSource,
  StoredMessage,
} from '../../store/conversations';
import type { ChunkHit, ChunkRef, OpenChunk } from '../documents/documents.svelte';
import { nothingFits } from '../documents/documents.svelte';

/** What the chat needs of the documents: the list, retrieval, prompt counting, the chunk viewer. */
export interface ChatDocuments {
  list(): Promise<DocumentRecord[]>;
  search(documents: DocumentRecord[], question: string): Promise<ChunkHit[]>;
  /** Tokens of a prompt through the chat model's template (or a bound on them). */
  countPromptTokens(messages: PromptMessage[]): Promise<number>;
  read(chunk: ChunkRef): Promise<OpenChunk | null>;
}

/** The attached documents still stored, and how many attached ones are gone. */
export function resolveAttached(
  attached: AttachedDocuments | undefined,
  stored: DocumentRecord[],
): { documents: DocumentRecord[]; missing: number } {
  if (!attached) return { documents: [], missing: 0 };
  if (attached.documents === 'all') return { documents: stored, missing: 0 };
  const ids = attached.documents;
  const documents = stored.filter((d) => ids.includes(d.id));
  return { documents, missing: ids.length - documents.length };
}

export function citedSource(hit: ChunkHit): CitedSource {
  const c = hit.chunk;
  return {
    documentId: c.documentId,
    documentName: c.documentName,
    index: c.index,
    start: c.start,
    end: c.end,
    ...(c.page !== undefined ? { page: c.page } : {}),
    headings: [...c.headings],
    text: c.text,
  };
}

/**
 * The turns the model sees: a search-only reply generated nothing, so it and its question are
 * left out (a template that insists on alternating turns would refuse two questions in a row).
 */
export function modelTurns(path: StoredMessage[]): ChatMessage[] {
  const skipped = new Set<string>();
  for (const m of path) {
    if (m.role === 'assistant' && m.retrieval?.searchOnly) {
      skipped.add(m.id);
      if (m.parentId) skipped.add(m.parentId);
    }
  }
  return path.filter((m) => !skipped.has(m.id)).map(({ role, content }) => ({ role, content }));
}

export interface GroundedRequest {
  /** The system message: the conversation's own prompt, the instructions and the sources. */
  system: ChatMessage;
  retrieval: AnswerRetrieval;
}

/**
 * The sources that fit: the system message with them and the question must leave the answer its
 * room in the context (the same room the engine keeps), counted through the chat template. Older
 * turns are not counted here: the engine leaves them out when they no longer fit, and says so.
 */
export async function groundedRequest(
  documents: ChatDocuments,
  question: string,
  hits: ChunkHit[],
  context: { systemPrompt: string; contextTokens: number; maxTokens: number },
): Promise<GroundedRequest> {
  const budget = context.contextTokens - answerRoom(context.contextTokens, context.maxTokens);
  const fitted = await fitSources(
    question,
    hits.map((hit) => ({ ...hit.chunk, hit })),
    budget,
    (messages) => documents.countPromptTokens(messages),
    { systemPrompt: context.systemPrompt },
  );
  if (fitted.used.length === 0) throw new Error(nothingFits(hits.length, context.contextTokens));
  return {
    system: fitted.messages[0],
    retrieval: {
      sources: fitted.used.map((s) => citedSource(s.hit)),
      dropped: fitted.dropped.length,
      searchOnly: false,
    },
  };
}
