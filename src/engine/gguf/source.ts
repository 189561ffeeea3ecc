// Model sources for the browser and Node alike: bytes in memory, a Blob/File, or an HTTP URL read
// with Range requests. Each read is bounded, so no source ever holds the whole file.

import { SourceReadError } from './errors.ts';
import type { ModelSource } from './types.ts';

function checkRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new SourceReadError(
      'out-of-range',
      `Read of ${length} bytes at ${offset} from ${name} is not a valid byte range.`,
    );
  }
  if (offset + length > size) {
    throw new SourceReadError(
      'out-of-range',
      `Read of ${length} bytes at ${offset} runs past the end of ${name} (${size} bytes): the file is shorter than its header says; download it again.`,
    );
  }
}

export function bytesSource(bytes: Uint8Array, name = 'model.gguf'): ModelSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      checkRange(name, bytes.byteLength, offset, length);
      return bytes.subarray(offset, offset + length);
    },
  };
}

export function blobSource(
  blob: Blob,
  name = blob instanceof File ? blob.name : 'model.gguf',
): ModelSource {
  return {
    name,
    size: blob.size,
    async read(offset, length) {
      checkRange(name, blob.size, offset, length);
      const bytes = new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer());
      if (bytes.byteLength !== length) {
        throw new SourceReadError(
          'short-read',
          `Reading ${name} returned ${bytes.byteLength} of ${length} bytes at ${offset}: the file changed or became unreadable; choose it again.`,
        );
      }
      return bytes;
    },
  };
}

export interface UrlSourceOptions {
  fetch?: typeof fetch;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

async function rangeRequest(
  url: string,
  start: number,
  end: number,
  options: UrlSourceOptions,
  signal?: AbortSignal,
): Promise<Response> {
  const doFetch = options.fetch ?? fetch;
  const response = await doFetch(url, {
    headers: { ...options.headers, Range: `bytes=${start}-${end}` },
    signal: signal ?? options.signal,
  });
  if (response.status === 200) {
    await response.body?.cancel();
    throw new SourceReadError(
      'no-range-support',
      `${url} answered a Range request with the whole file (HTTP 200): the server does not support byte ranges; host the model where Range requests work, or download it and open the file.`,
    );
  }
  if (response.status !== 206) {
    await response.body?.cancel();
    throw new SourceReadError(
      'http-status',
      `${url} answered HTTP ${response.status} ${response.statusText} for bytes ${start}-${end}: check the address and that the file is still there.`,
    );
  }
  return response;
}

/**
 * At most `length` bytes of a response body; the rest is never read, so a server that sends more
 * than it was asked for (even an endless body) costs no more memory than the request.
 */
async function readBody(response: Response, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let filled = 0;
  const reader = response.body?.getReader();
  if (!reader) return out.subarray(0, 0);
  try {
    while (filled < length) {
      const { done, value } = await reader.read();
      if (done) break;
      const piece = value.subarray(0, length - filled);
      out.set(piece, filled);
      filled += piece.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return out.subarray(0, filled);
}

/** Opens an HTTP(S) model file; its size comes from the `Content-Range` of a one-byte request. */
export async function openUrlSource(
  url: string,
  options: UrlSourceOptions = {},
): Promise<ModelSource> {
  const probe = await rangeRequest(url, 0, 0, options);
  const total = probe.headers.get('content-range')?.match(/\/\s*(\d+)\s*$/)?.[1];
  await readBody(probe, 1);
  const size = total === undefined ? NaN : Number(total);
  if (!Number.isSafeInteger(size)) {
    throw new SourceReadError(
      'no-range-support',
      `${url} did not report the file size in Content-Range: the server's Range support is incomplete; host the model elsewhere or open a downloaded file.`,
    );
  }
  const name = decodeURIComponent(new URL(url).pathname.split('/').pop() || url);
  return {
    name,
    size,
    async read(offset, length, signal) {
      checkRange(name, size, offset, length);
      if (length === 0) return new Uint8Array(0);
      const response = await rangeRequest(url, offset, offset + length - 1, options, signal);
      const bytes = await readBody(response, length);
      if (bytes.byteLength !== length) {
        throw new SourceReadError(
          'short-read',
          `${url} returned ${bytes.byteLength} of ${length} bytes at offset ${offset}: the connection dropped or the file changed on the server; try again.`,
        );
      }
      return bytes;
    },
  };
}
