// The page's side of the documents worker. Cancelling terminates the worker (the only way to stop
// a PDF parse or an embedding pass at once, and it frees the worker's GPU memory); the next
// request starts a fresh one.
import type {
  ChunkSettings,
  DocumentsRequest,
  DocumentsResponse,
  IngestedDocument,
  IngestStage,
} from './documents-messages';
import type { ChatMessage } from './engine';
import type { GgufSourceRef } from './messages';

export type { ChunkSettings, IngestedDocument, IngestStage };

export class DocumentsWorkerError extends Error {
  override readonly name = 'DocumentsWorkerError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface IngestRequest {
  name: string;
  blob: Blob;
  modelId: string;
  chunking: ChunkSettings;
  maxBytes?: number;
}

type Pending = {
  resolve: (r: DocumentsResponse) => void;
  reject: (e: Error) => void;
  onProgress?: (stage: IngestStage, done: number, total: number) => void;
};

export class DocumentsClient {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly start: () => Worker = () =>
      new Worker(new URL('./documents-worker.ts', import.meta.url), {
        type: 'module',
        name: 'documents',
      }),
  ) {}

  private port(): Worker {
    if (this.worker) return this.worker;
    const worker = this.start();
    worker.addEventListener('message', (event: MessageEvent<DocumentsResponse>) => {
      const r = event.data;
      const p = this.pending.get(r.id);
      if (!p) return;
      if (r.type === 'progress') p.onProgress?.(r.stage, r.done, r.total);
      else {
        this.pending.delete(r.id);
        if (r.type === 'error') p.reject(new DocumentsWorkerError(r.code, r.message));
        else p.resolve(r);
      }
    });
    worker.addEventListener('error', (event) => {
      this.fail(
        new DocumentsWorkerError(
          'failed',
          `The documents worker stopped (${event.message || 'no message'}); try again.`,
        ),
      );
    });
    this.worker = worker;
    return worker;
  }

  private fail(error: Error): void {
    this.worker?.terminate();
    this.worker = null;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  private send(
    request: DocumentsRequest,
    signal?: AbortSignal,
    onProgress?: Pending['onProgress'],
  ): Promise<DocumentsResponse> {
    if (signal?.aborted) {
      return Promise.reject(
        new DocumentsWorkerError('cancelled', 'Cancelled; nothing was stored.'),
      );
    }
    return new Promise((resolve, reject) => {
      this.pending.set(request.id, { resolve, reject, onProgress });
      signal?.addEventListener(
        'abort',
        () => this.fail(new DocumentsWorkerError('cancelled', 'Cancelled; nothing was stored.')),
        { once: true },
      );
      this.port().postMessage(request);
    });
  }

  async ingest(
    request: IngestRequest,
    onProgress?: Pending['onProgress'],
    signal?: AbortSignal,
  ): Promise<IngestedDocument> {
    const r = await this.send(
      { type: 'ingest', id: this.nextId++, ...request },
      signal,
      onProgress,
    );
    if (r.type !== 'ingested')
      throw new Error(`unexpected answer ${r.type} from the documents worker`);
    return r.document;
  }

  async embed(modelId: string, texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    const r = await this.send({ type: 'embed', id: this.nextId++, modelId, texts }, signal);
    if (r.type !== 'embedded')
      throw new Error(`unexpected answer ${r.type} from the documents worker`);
    return r.vectors;
  }

  /** Tokens of `messages` through the chat template of the GGUF model behind `source`. */
  async countChatTokens(source: GgufSourceRef, messages: ChatMessage[]): Promise<number> {
    const r = await this.send({ type: 'count', id: this.nextId++, source, messages });
    if (r.type !== 'counted') {
      throw new Error(`unexpected answer ${r.type} from the documents worker`);
    }
    return r.tokens;
  }

  close(): void {
    this.worker?.terminate();
    this.worker = null;
  }
}
