// Errors the model store raises: each says what happened and what the person can do about it.

export type StoreErrorCode =
  | 'quota' // refused up front: the model does not fit
  | 'storage-full' // the browser refused a write mid-way; completed chunks are kept
  | 'busy' // another tab holds the model
  | 'http' // the server answered with an error status
  | 'network' // the connection failed or closed early
  | 'changed' // the file changed under a stored model
  | 'hash-mismatch' // the stored bytes do not hash to what the host or caller stated
  | 'damaged' // a stored chunk no longer matches its hash
  | 'missing' // no such model, or it is not complete
  | 'not-gguf' // the bytes are not a GGUF file (an HTML page, a wrong file)
  | 'bad-input'; // the request itself cannot work (bad URL, bad chunk size, no size stated)

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    /** Worth trying again after a pause (network trouble, a busy or failing server). */
    readonly retryable = false,
    /** Seconds the server asked to wait (Retry-After). */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
  }
}

export function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

export function isQuotaExceeded(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: unknown }).name === 'QuotaExceededError'
  );
}

/** Binary units, as the app shows sizes everywhere: 0 bytes, 8 KiB, 2.86 MiB, 1.5 GiB. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${Number(value.toFixed(digits))} ${units[unit]}`;
}

/** The four bytes every GGUF file starts with. */
const GGUF_MAGIC = [0x47, 0x47, 0x55, 0x46];

/** Refuses bytes that do not start as a GGUF file does, quoting what they start with instead. */
export function checkGgufMagic(first: Uint8Array, name: string): void {
  if (first.length >= 4 && GGUF_MAGIC.every((byte, i) => first[i] === byte)) return;
  const shown = new TextDecoder()
    .decode(first.subarray(0, 16))
    .replace(/[^\x20-\x7e]/g, '.')
    .trim();
  throw new StoreError(
    'not-gguf',
    `${name} is not a GGUF model: it starts with "${shown}" instead of "GGUF" (an HTML page or ` +
      'another kind of file). Nothing was stored: check the address or choose the .gguf file.',
  );
}
