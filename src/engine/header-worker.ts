// A short-lived Web Worker that reads one GGUF header for the Models view, so a header of a million
// tokens (seconds of parsing) never blocks the page, and an abandoned read is ended by terminating
// the worker. It answers with the planning header only: the vocabulary never crosses to the page.
import { GgufFormatError, SourceReadError } from './gguf/errors';
import { parseHeader } from './gguf/header';
import { planningHeader } from './gguf/planning-header';
import { blobSource, openUrlSource } from './gguf/source';
import type { ModelHeader, ModelSource } from './gguf/types';
import type { GgufSourceRef } from './messages';
import { ModelStore } from '../store/model-store';
import { StoreModelSource } from '../store/model-source';

export interface HeaderRequest {
  id: number;
  source: GgufSourceRef;
}

/** An error as it crosses the worker boundary, to be rebuilt with its class on the page. */
export interface HeaderFailure {
  name: string;
  message: string;
  code?: string;
  subject?: string;
}

export type HeaderResponse =
  { id: number; ok: true; header: ModelHeader } | { id: number; ok: false; error: HeaderFailure };

export interface HeaderScopeLike {
  postMessage(message: HeaderResponse): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<HeaderRequest>) => void): void;
}

function openSource(ref: GgufSourceRef): Promise<ModelSource> {
  switch (ref.type) {
    case 'url':
      return openUrlSource(ref.url);
    case 'file':
      return Promise.resolve(blobSource(ref.file, ref.name));
    case 'store':
      return StoreModelSource.open(new ModelStore(), ref.modelId);
  }
}

export function describeFailure(error: unknown): HeaderFailure {
  if (error instanceof GgufFormatError) {
    return { name: error.name, message: error.message, code: error.code, subject: error.subject };
  }
  if (error instanceof SourceReadError) {
    return { name: error.name, message: error.message, code: error.code };
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

export function serveHeaderRequests(
  scope: HeaderScopeLike,
  open: (ref: GgufSourceRef) => Promise<ModelSource> = openSource,
): void {
  scope.addEventListener('message', async ({ data }) => {
    let source: ModelSource;
    try {
      source = await open(data.source);
    } catch (error) {
      // A TypeError here is fetch() finding no host; the page says "could not be reached".
      scope.postMessage({ id: data.id, ok: false, error: describeFailure(error) });
      return;
    }
    try {
      const header = planningHeader(await parseHeader(source));
      scope.postMessage({ id: data.id, ok: true, header });
    } catch (error) {
      const failure = describeFailure(error);
      if (failure.name === 'TypeError') failure.name = 'Error';
      scope.postMessage({ id: data.id, ok: false, error: failure });
    }
  });
}

if (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope) {
  serveHeaderRequests(self as unknown as HeaderScopeLike);
}
