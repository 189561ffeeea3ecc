// The documents Web Worker: reads a file into text (src/documents), cuts it into chunks measured
// by the embedding model's own tokenizer, and embeds them on the GPU with the engine's embedding
// mode; it also embeds questions, and counts a grounded prompt's tokens with the chat model's own
// tokenizer and template (read from its header alone). The embedding model stays loaded between
// requests. Nothing is stored here: the page stores a document only once all of it is embedded.
import { chunkText } from '../documents/chunk';
import { DocumentError } from '../documents/errors';
import { extractDocument } from '../documents/extract';
import { browserEnvironment, openProbedDevice } from '../gpu/probe';
import type { EngineDevice } from '../gpu/device';
import { ModelStore } from '../store/model-store';
import { StoreModelSource } from '../store/model-source';
import type { DocumentsRequest, DocumentsResponse } from './documents-messages';
import { Embedder } from './gguf/embedding';
import { parseHeader } from './gguf/header';
import { blobSource, openUrlSource } from './gguf/source';
import { textCodec } from './gguf/text-codec';
import type { TextCodec } from './gguf/engine';
import type { ModelSource } from './gguf/types';
import type { GgufSourceRef } from './messages';

let loaded: { modelId: string; embedder: Embedder; device: EngineDevice; name: string } | null =
  null;

async function embedderFor(
  modelId: string,
  onProgress: (done: number, total: number) => void,
): Promise<NonNullable<typeof loaded>> {
  if (loaded?.modelId === modelId) return loaded;
  loaded?.embedder.unload();
  loaded?.device.device.destroy();
  loaded = null;
  const gpu = browserEnvironment().gpu;
  if (!gpu) {
    throw new Error('This browser has no WebGPU: embeddings need it; see the Hardware view.');
  }
  const device = await openProbedDevice(gpu, 'high-performance');
  const source = await StoreModelSource.open(new ModelStore(), modelId);
  try {
    const embedder = await Embedder.load(device, source, { onProgress });
    loaded = { modelId, embedder, device, name: embedder.header.hparams.name };
    return loaded;
  } catch (error) {
    device.device.destroy();
    throw error;
  }
}

let chatCodec: { key: string; codec: TextCodec } | null = null;

async function chatCodecFor(ref: GgufSourceRef): Promise<TextCodec> {
  const key =
    ref.type === 'store' ? `store:${ref.modelId}` : ref.type === 'url' ? ref.url : ref.name;
  if (chatCodec?.key === key) return chatCodec.codec;
  const source: ModelSource =
    ref.type === 'store'
      ? await StoreModelSource.open(new ModelStore(), ref.modelId)
      : ref.type === 'url'
        ? await openUrlSource(ref.url)
        : blobSource(ref.file, ref.name);
  const codec = textCodec(await parseHeader(source));
  chatCodec = { key, codec };
  return codec;
}

function post(message: DocumentsResponse): void {
  (self as unknown as Worker).postMessage(message);
}

async function handle(request: DocumentsRequest): Promise<void> {
  const id = request.id;
  const progress = (stage: 'read' | 'parse' | 'model' | 'embed') => (done: number, total: number) =>
    post({ type: 'progress', id, stage, done, total });
  if (request.type === 'count') {
    const codec = await chatCodecFor(request.source);
    post({ type: 'counted', id, tokens: codec.encodeChat!(request.messages).length });
    return;
  }
  if (request.type === 'embed') {
    const { embedder } = await embedderFor(request.modelId, progress('model'));
    post({ type: 'embedded', id, vectors: await embedder.embed(request.texts) });
    return;
  }
  const extracted = await extractDocument(
    { name: request.name, blob: request.blob },
    {
      maxBytes: request.maxBytes,
      onProgress: (p) =>
        post({ type: 'progress', id, stage: p.stage, done: p.done, total: p.total }),
    },
  );
  const model = await embedderFor(request.modelId, progress('model'));
  const { embedder } = model;
  const chunks = chunkText(extracted, {
    countTokens: embedder.countTokens,
    // BOS/EOS join each chunk when it is embedded; the chunk must still fit the context.
    maxTokens: Math.min(request.chunking.maxTokens, embedder.contextTokens - 2),
    overlapTokens: request.chunking.overlapTokens,
  });
  const vectors = await embedder.embed(
    chunks.map((c) => c.text),
    { onProgress: progress('embed') },
  );
  post({
    type: 'ingested',
    id,
    document: {
      kind: extracted.kind,
      text: extracted.text,
      pages: extracted.pages,
      chunks: chunks.map((c, i) => ({ ...c, vector: vectors[i] })),
      embedding: { id: request.modelId, name: model.name, dims: embedder.dims },
    },
  });
}

if (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope) {
  self.addEventListener('message', (event: MessageEvent<DocumentsRequest>) => {
    handle(event.data).catch((error: unknown) =>
      post({
        type: 'error',
        id: event.data.id,
        code: error instanceof DocumentError ? error.code : 'failed',
        message: error instanceof Error ? error.message : String(error),
      }),
    );
  });
}
