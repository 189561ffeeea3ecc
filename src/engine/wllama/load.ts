// Loads a model onto the CPU engine from any of the worker's sources. wllama reads GGUF from a
// Blob: a local file is one already; a stored model becomes one Blob per stored chunk, joined
// into one without copying, so no single buffer ever holds the whole file.
import type { LoadProgress } from '../engine';
import { parseHeader, checkSupported } from '../gguf/header';
import { textCodec } from '../gguf/text-codec';
import type { ModelSource } from '../gguf/types';
import type { GgufSourceRef } from '../messages';
import type { Plan } from '../../plan/types';
import { StoreModelSource } from '../../store/model-source';
import { WllamaEngine } from './engine';

async function modelBlob(
  ref: GgufSourceRef,
  source: ModelSource,
  onProgress: (progress: LoadProgress) => void,
  signal: AbortSignal,
): Promise<Blob> {
  if (ref.type === 'file') return ref.file;
  if (source instanceof StoreModelSource) {
    const parts: Blob[] = [];
    for await (const chunk of source.chunks(signal)) {
      parts.push(new Blob([chunk.bytes as Uint8Array<ArrayBuffer>]));
      onProgress({
        stage: 'cache',
        loaded: chunk.offset + chunk.bytes.length,
        total: source.size,
      });
    }
    return new Blob(parts);
  }
  const response = await fetch(ref.type === 'url' ? ref.url : '', { signal });
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${source.name}`);
  return response.blob();
}

export async function loadWllamaEngine(
  ref: GgufSourceRef,
  source: ModelSource,
  plan: Plan,
  onProgress: (progress: LoadProgress) => void,
  signal: AbortSignal,
): Promise<WllamaEngine> {
  const header = await parseHeader(source);
  checkSupported(header);
  const codec = textCodec(header);
  const blob = await modelBlob(ref, source, onProgress, signal);
  return WllamaEngine.load(blob, codec, {
    contextTokens: plan.contextTokens,
    threads: plan.engineChoice?.threads ?? 1,
    signal,
    onProgress,
  });
}
