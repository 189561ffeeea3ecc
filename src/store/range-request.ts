// One HTTP Range request and what its answer says about the file: where the body starts, the
// file's size, its validators (ETag, Last-Modified) and the SHA-256 a Hugging Face-style host
// states in X-Linked-Etag.
import { StoreError, isAbort } from './errors';
import { isSha256Hex, nameFromUrl } from './manifest';

export interface RangeReply {
  response: Response;
  /** File offsets of the body's first and last byte. */
  start: number;
  end: number;
  total: number;
  etag: string | null;
  lastModified: string | null;
  linkedSha256: string | null;
}

const RETRY_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * Asks for bytes [start, last] (to the end when `last` is null) and describes the answer. Network
 * failures and busy-server statuses come back as retryable StoreErrors; a 416 as `changed`.
 */
export async function requestRange(
  fetchImpl: typeof fetch,
  url: string,
  start: number,
  last: number | null,
  signal: AbortSignal,
): Promise<RangeReply> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      headers: { Range: `bytes=${start}-${last ?? ''}` },
      cache: 'no-store',
      signal,
    });
  } catch (error) {
    if (signal.aborted || isAbort(error)) throw error;
    throw new StoreError(
      'network',
      `Could not reach ${new URL(url).host}: ${(error as Error).message}.`,
      true,
    );
  }
  if (response.status === 416) {
    await response.body?.cancel();
    throw new StoreError('changed', `The server says byte ${start} is past the end of the file.`);
  }
  if (response.status !== 200 && response.status !== 206) {
    await response.body?.cancel();
    const retryAfter = Number(response.headers.get('Retry-After'));
    throw new StoreError(
      'http',
      `The server answered ${response.status} ${response.statusText} for ${nameFromUrl(url)}.` +
        (response.status === 404
          ? ' Check the URL.'
          : response.status === 401 || response.status === 403
            ? ' The file needs a login or is not public.'
            : ''),
      RETRY_STATUSES.has(response.status),
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
    );
  }
  if (!response.body) throw new StoreError('network', 'The server sent no body.', true);
  let reply: RangeReply;
  try {
    reply = { response, ...describe(response) };
  } catch (error) {
    await response.body.cancel();
    throw error;
  }
  if (response.status === 206 && reply.start !== start) {
    await response.body.cancel();
    throw new StoreError(
      'bad-input',
      `The server sent bytes from ${reply.start} when asked for bytes from ${start}: it does not ` +
        'handle Range requests correctly, so this file cannot be stored from it.',
    );
  }
  return reply;
}

function describe(response: Response): Omit<RangeReply, 'response'> {
  const etag = response.headers.get('ETag');
  const lastModified = response.headers.get('Last-Modified');
  const linked =
    response.headers.get('X-Linked-Etag')?.replace(/^W\//, '').replace(/"/g, '') ?? null;
  const linkedSha256 = linked && isSha256Hex(linked) ? linked.toLowerCase() : null;
  if (response.status === 200) {
    const total = Number(
      response.headers.get('Content-Length') ?? response.headers.get('X-Linked-Size'),
    );
    if (!Number.isFinite(total) || total <= 0) {
      throw new StoreError(
        'bad-input',
        'The server did not say how large the file is (no Content-Length), so it cannot be stored in resumable chunks.',
      );
    }
    return { start: 0, end: total - 1, total, etag, lastModified, linkedSha256 };
  }
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get('Content-Range') ?? '');
  if (!match) {
    throw new StoreError(
      'bad-input',
      'The server answered a Range request without a readable Content-Range header (is it exposed to this page through CORS?).',
    );
  }
  const [start, end, total] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (total <= 0 || end < start || end >= total) {
    throw new StoreError(
      'bad-input',
      `The server's Content-Range "${match[0]}" is not a range of a file, so nothing from it is ` +
        'stored: the host is misconfigured; download the file from another host.',
    );
  }
  checkLength(response, end - start + 1, `its Content-Range (${match[0]})`);
  return { start, end, total, etag, lastModified, linkedSha256 };
}

/** A body whose stated length differs from the bytes the headers promise is refused unread. */
function checkLength(response: Response, expected: number, promise: string): void {
  const stated = response.headers.get('Content-Length');
  if (stated === null || response.headers.get('Content-Encoding')) return;
  if (Number(stated) !== expected) {
    throw new StoreError(
      'bad-input',
      `The server sends ${stated} bytes where ${promise} promises ${expected}, so nothing from ` +
        'it is stored: the host is misconfigured; download the file from another host.',
    );
  }
}
