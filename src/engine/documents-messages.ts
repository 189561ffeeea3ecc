// The documents worker's protocol: the page sends a file (or pasted text) to read, chunk and
// embed, or a question to embed; the worker answers with progress and one result or error.
import type { DocumentKind, TextChunk } from '../documents/types';
import type { ChatMessage } from './engine';
import type { GgufSourceRef } from './messages';

export interface ChunkSettings {
  maxTokens: number;
  overlapTokens: number;
}

export type DocumentsRequest =
  | {
      type: 'ingest';
      id: number;
      name: string;
      blob: Blob;
      /** Stored GGUF embedding model (model store id). */
      modelId: string;
      chunking: ChunkSettings;
      maxBytes?: number;
    }
  | { type: 'embed'; id: number; modelId: string; texts: string[] }
  /** Tokens of a conversation rendered through a GGUF chat model's own template. */
  | { type: 'count'; id: number; source: GgufSourceRef; messages: ChatMessage[] };

export type IngestStage = 'read' | 'parse' | 'model' | 'embed';

export interface IngestedDocument {
  kind: DocumentKind;
  text: string;
  pages?: number;
  chunks: (TextChunk & { vector: Float32Array })[];
  embedding: { id: string; name: string; dims: number };
}

export type DocumentsResponse =
  | { type: 'progress'; id: number; stage: IngestStage; done: number; total: number }
  | { type: 'ingested'; id: number; document: IngestedDocument }
  | { type: 'embedded'; id: number; vectors: Float32Array[] }
  | { type: 'counted'; id: number; tokens: number }
  | { type: 'error'; id: number; code: string; message: string };
