// The page's side of the header worker: one worker per header, terminated when the answer comes
// or the caller gives up, so a slow or stuck parse costs the page nothing.
import {
  GgufFormatError,
  SourceReadError,
  type GgufErrorCode,
  type SourceErrorCode,
} from './gguf/errors';
import type { ModelHeader } from './gguf/types';
import type { HeaderFailure, HeaderRequest, HeaderResponse } from './header-worker';
import type { GgufSourceRef } from './messages';

export interface HeaderWorkerLike {
  postMessage(message: HeaderRequest): void;
  onmessage: ((event: MessageEvent<HeaderResponse>) => void) | null;
  onerror: ((event: ErrorEvent) => void) | null;
  terminate(): void;
}

function startWorker(): HeaderWorkerLike {
  return new Worker(new URL('./header-worker.ts', import.meta.url), {
    type: 'module',
    name: 'gguf-header',
  }) as HeaderWorkerLike;
}

/** The error the worker described, with its class and code, as if it had been thrown here. */
export function rebuildFailure(failure: HeaderFailure): Error {
  switch (failure.name) {
    case 'GgufFormatError':
      return new GgufFormatError(failure.code as GgufErrorCode, failure.message, failure.subject);
    case 'SourceReadError':
      return new SourceReadError(failure.code as SourceErrorCode, failure.message);
    case 'TypeError':
      // What fetch() throws when the host cannot be reached at all.
      return new TypeError(failure.message);
    case 'AbortError':
      return new DOMException(failure.message, 'AbortError');
    default:
      return new Error(failure.message);
  }
}

/** Reads a model's planning header (no vocabulary) in a worker of its own. */
export function readHeaderInWorker(
  source: GgufSourceRef,
  options: { signal?: AbortSignal; createWorker?: () => HeaderWorkerLike } = {},
): Promise<ModelHeader> {
  const { signal } = options;
  signal?.throwIfAborted();
  const worker = (options.createWorker ?? startWorker)();
  return new Promise<ModelHeader>((resolve, reject) => {
    const finish = () => {
      signal?.removeEventListener('abort', abort);
      worker.terminate();
    };
    const abort = () => {
      finish();
      reject(signal?.reason ?? new DOMException('The header read was cancelled.', 'AbortError'));
    };
    signal?.addEventListener('abort', abort, { once: true });
    worker.onmessage = ({ data }) => {
      finish();
      if (data.ok) resolve(data.header);
      else reject(rebuildFailure(data.error));
    };
    worker.onerror = (event) => {
      finish();
      reject(new Error(`The header reader stopped (${event.message || 'no message'}): try again.`));
    };
    worker.postMessage({ id: 1, source });
  });
}
