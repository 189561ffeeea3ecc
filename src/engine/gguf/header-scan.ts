// A structural pass over the GGUF header before anything is parsed into objects: every length,
// count and dimension is checked against the bytes that remain in the file, so a lying header
// (a tensor count of 2^60, a string of 2^40 bytes) fails at once instead of driving a parser into
// huge allocations. Only the header is read, in growing chunks.

import { GgufFormatError } from './errors.ts';
import type { ModelSource } from './types.ts';

const MAX_DIMS = 4;
const SCALAR_BYTES: Record<number, number> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  10: 8,
  11: 8,
  12: 8,
};
const STRING = 8;
const ARRAY = 9;
const FIRST_READ = 1 << 20;

const utf8 = new TextDecoder();

class HeaderReader {
  private bytes = new Uint8Array(0);
  private view = new DataView(this.bytes.buffer);
  pos = 0;

  constructor(
    private readonly source: ModelSource,
    private readonly signal?: AbortSignal,
  ) {}

  remaining(): number {
    return this.source.size - this.pos;
  }

  /** Everything read so far: the whole header and some read-ahead. */
  prefix(): Uint8Array {
    return this.bytes;
  }

  /** True when the next `n` bytes are already in memory (no await needed). */
  has(n: number): boolean {
    return this.pos + n <= this.bytes.byteLength;
  }

  async need(n: number, what: string): Promise<void> {
    if (n > this.remaining()) {
      throw new GgufFormatError(
        'truncated',
        `${this.source.name} ends (${this.source.size} bytes) inside ${what} at byte ${this.pos}: the file is truncated; download it again.`,
      );
    }
    const end = this.pos + n;
    if (end <= this.bytes.byteLength) return;
    // Grow by half again: few copies, and little read past the header on a slow connection.
    const loaded = this.bytes.byteLength;
    const target = Math.min(
      this.source.size,
      Math.max(end, loaded + Math.max(FIRST_READ, loaded >> 1)),
    );
    const more = await this.source.read(
      this.bytes.byteLength,
      target - this.bytes.byteLength,
      this.signal,
    );
    const grown = new Uint8Array(target);
    grown.set(this.bytes);
    grown.set(more, this.bytes.byteLength);
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  u32(): number {
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  text(length: number): string {
    const s = utf8.decode(this.bytes.subarray(this.pos, this.pos + length));
    this.pos += length;
    return s;
  }
}

/** Beyond this a length or count is impossible in any real GGUF header, not merely cut short. */
const PLAUSIBLE_BYTES = 2n ** 32n;
// The header parser's own limits (@huggingface/gguf 0.4.6); refused here before reading that far.
const MAX_STRING_BYTES = 10_000_000n;
const MAX_ARRAY_LENGTH = 1_000_000n;

function tooLarge(
  source: ModelSource,
  what: string,
  value: bigint,
  limit: bigint,
  subject?: string,
): GgufFormatError {
  return new GgufFormatError(
    'absurd-count',
    `${source.name} declares ${what} of ${value}, above the ${limit} any model header needs: the header is damaged; download the file again.`,
    subject,
  );
}

/**
 * The header promises more than the file holds: an absurd promise is a damaged header, a
 * plausible one a file cut short.
 */
function overrun(
  source: ModelSource,
  what: string,
  value: bigint,
  impliedBytes: bigint,
  subject?: string,
): GgufFormatError {
  if (impliedBytes > PLAUSIBLE_BYTES) {
    return new GgufFormatError(
      'absurd-count',
      `${source.name} declares ${what} of ${value}, more than any GGUF header holds: the header is damaged; download the file again.`,
      subject,
    );
  }
  return new GgufFormatError(
    'truncated',
    `${source.name} declares ${what} of ${value}, but ends (${source.size} bytes) before that: the file is truncated; download it again.`,
    subject,
  );
}

async function readString(r: HeaderReader, source: ModelSource, what: string): Promise<string> {
  await r.need(8, what);
  const length = r.u64();
  if (length > MAX_STRING_BYTES)
    throw tooLarge(source, `a ${what} length`, length, MAX_STRING_BYTES);
  if (length > BigInt(r.remaining())) throw overrun(source, `a ${what} length`, length, length);
  await r.need(Number(length), what);
  return r.text(Number(length));
}

/** Steps over a string value without decoding it: vocabularies hold hundreds of thousands. */
async function skipString(r: HeaderReader, source: ModelSource, key: string): Promise<void> {
  if (!r.has(8)) await r.need(8, `a string in "${key}"`);
  const length = r.u64();
  if (length > MAX_STRING_BYTES) {
    throw tooLarge(source, `a string length in "${key}"`, length, MAX_STRING_BYTES, key);
  }
  if (length > BigInt(r.remaining())) {
    throw overrun(source, `a string length in "${key}"`, length, length, key);
  }
  if (!r.has(Number(length))) await r.need(Number(length), `a string in "${key}"`);
  r.pos += Number(length);
}

async function skipValue(
  r: HeaderReader,
  source: ModelSource,
  type: number,
  key: string,
  depth = 0,
): Promise<void> {
  if (type === STRING) return skipString(r, source, key);
  const size = SCALAR_BYTES[type];
  if (size !== undefined) {
    await r.need(size, `the value of "${key}"`);
    r.pos += size;
    return;
  }
  if (type !== ARRAY || depth > 2) {
    throw new GgufFormatError(
      'bad-metadata',
      `Metadata "${key}" has value type ${type}, which GGUF does not define: the header is damaged; download the file again.`,
      key,
    );
  }
  await r.need(12, `the array header of "${key}"`);
  const itemType = r.u32();
  const count = r.u64();
  const itemSize =
    SCALAR_BYTES[itemType] ?? (itemType === STRING ? 8 : itemType === ARRAY ? 12 : undefined);
  if (itemSize === undefined) {
    throw new GgufFormatError(
      'bad-metadata',
      `Metadata array "${key}" has item type ${itemType}, which GGUF does not define.`,
      key,
    );
  }
  if (count > MAX_ARRAY_LENGTH)
    throw tooLarge(source, `an array "${key}" length`, count, MAX_ARRAY_LENGTH, key);
  const arrayBytes = count * BigInt(itemSize);
  if (arrayBytes > BigInt(r.remaining())) {
    throw overrun(source, `an array "${key}" length`, count, arrayBytes, key);
  }
  if (SCALAR_BYTES[itemType] !== undefined) {
    await r.need(Number(count) * itemSize, `the array "${key}"`);
    r.pos += Number(count) * itemSize;
    return;
  }
  if (itemType === STRING) {
    for (let i = 0; i < Number(count); i++) await skipString(r, source, key);
    return;
  }
  for (let i = 0; i < Number(count); i++) await skipValue(r, source, itemType, key, depth + 1);
}

/**
 * Validates the header's structure, throwing a GgufFormatError naming the first problem, and
 * returns the bytes it read (the whole header, often more) so the parser need not read them again.
 */
export async function scanHeader(source: ModelSource, signal?: AbortSignal): Promise<Uint8Array> {
  const r = new HeaderReader(source, signal);
  await r.need(24, 'the 24-byte GGUF preamble');
  const magic = r.text(4);
  if (magic !== 'GGUF') {
    throw new GgufFormatError(
      'bad-magic',
      `${source.name} does not start with "GGUF" (found ${JSON.stringify(magic)}): it is not a GGUF model file; choose a .gguf file.`,
    );
  }
  const version = r.u32();
  if (version !== 2 && version !== 3) {
    throw new GgufFormatError(
      'bad-version',
      `${source.name} is GGUF version ${version}; this engine reads versions 2 and 3 (little-endian): convert the model again with a current llama.cpp.`,
    );
  }
  const tensorCount = r.u64();
  const kvCount = r.u64();
  // Smallest entries: a key length, a type tag and a one-byte value; a name length, n_dims, type, offset.
  if (kvCount * 13n > BigInt(r.remaining())) {
    throw overrun(source, 'a metadata entry count', kvCount, kvCount * 13n, 'kv_count');
  }
  if (tensorCount * 24n > BigInt(r.remaining())) {
    throw overrun(source, 'a tensor count', tensorCount, tensorCount * 24n, 'tensor_count');
  }
  for (let i = 0; i < Number(kvCount); i++) {
    const key = await readString(r, source, `metadata key #${i}`);
    await r.need(4, `the type of "${key}"`);
    await skipValue(r, source, r.u32(), key);
  }
  for (let i = 0; i < Number(tensorCount); i++) {
    const name = await readString(r, source, `tensor name #${i}`);
    await r.need(4, `the dimensions of "${name}"`);
    const dims = r.u32();
    if (dims < 1 || dims > MAX_DIMS) {
      throw new GgufFormatError(
        'absurd-count',
        `Tensor "${name}" claims ${dims} dimensions; GGUF tensors have 1 to ${MAX_DIMS}: the header is damaged; download the file again.`,
        name,
      );
    }
    await r.need(dims * 8 + 12, `the info of tensor "${name}"`);
    for (let d = 0; d < dims; d++) {
      const size = r.u64();
      if (size > PLAUSIBLE_BYTES) {
        throw new GgufFormatError(
          'absurd-count',
          `Tensor "${name}" claims a dimension of ${size}: the header is damaged; download the file again.`,
          name,
        );
      }
    }
    r.pos += 12;
  }
  return r.prefix();
}
