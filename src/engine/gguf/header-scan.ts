// Reads a GGUF header (metadata and tensor infos) in one pass over the bytes, reading only the
// header, in growing chunks. Every length and count is checked against the bytes left in the file
// and against what any real header needs before anything is read or allocated for it, so a lying
// header (a tensor count of 2^60, a string of 2^40 bytes, five million metadata entries) fails at
// once with an error that says which. Keys are kept in a null-prototype object and each key may
// appear once, as llama.cpp requires: a "__proto__" key is data, and a second "block_count" does
// not silently win. (@huggingface/gguf is not used for this: it cuts a string that runs past its
// 2 MB read-ahead without a word, re-reads a whole array for every chunk it fetches, and stores
// keys in a plain object.)

import { GgufFormatError } from './errors.ts';
import type { ModelSource } from './types.ts';

/** GGUF metadata value types (gguf.h `enum gguf_type`). */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

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
const { STRING, ARRAY } = GgufValueType;

/** ggml's GGML_MAX_DIMS. */
const MAX_DIMS = 4;
const FIRST_READ = 1 << 20;

/** Beyond this a length or count is impossible in any real GGUF header, not merely cut short. */
const PLAUSIBLE_BYTES = 2n ** 32n;

/**
 * What any real header needs, with room to spare; past these a header is refused before its
 * entries are read. The largest vocabularies (a million tokens) take about 20 MB per array.
 */
export const HEADER_LIMITS = {
  metadataEntries: 100_000,
  tensors: 100_000,
  stringBytes: 10_000_000,
  arrayItems: 1_000_000,
  valueBytes: 32 << 20,
  arrayDepth: 3,
} as const;

export interface RawTensorInfo {
  name: string;
  /** ggml order; each at most 2^32. */
  dims: number[];
  type: number;
  /** From the start of the data section, as written. */
  offset: bigint;
}

export interface RawHeader {
  version: number;
  /** A null-prototype object: any key is data. 64-bit integers are numbers when safe. */
  metadata: Record<string, unknown>;
  /** Each key's GGUF value type. */
  valueTypes: ReadonlyMap<string, number>;
  tensors: RawTensorInfo[];
  /** Where the tensor infos end (the data section starts at the next alignment boundary). */
  headerBytes: number;
}

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
    const more = await this.source.read(loaded, target - loaded, this.signal);
    const grown = new Uint8Array(target);
    grown.set(this.bytes);
    grown.set(more, loaded);
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  /** True when the next `n` bytes are already in memory (no await needed). */
  has(n: number): boolean {
    return this.pos + n <= this.bytes.byteLength;
  }

  u32(): number {
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** A u64 below 2^32 as a number (the common case, with no BigInt), else undefined. */
  u64Small(): number | undefined {
    const low = this.view.getUint32(this.pos, true);
    const high = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    return high === 0 ? low : undefined;
  }

  u64(): bigint {
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  scalar(type: number): unknown {
    const v = this.view;
    const at = this.pos;
    this.pos += SCALAR_BYTES[type];
    switch (type) {
      case 0:
        return v.getUint8(at);
      case 1:
        return v.getInt8(at);
      case 2:
        return v.getUint16(at, true);
      case 3:
        return v.getInt16(at, true);
      case 4:
        return v.getUint32(at, true);
      case 5:
        return v.getInt32(at, true);
      case 6:
        return v.getFloat32(at, true);
      case 7:
        return v.getUint8(at) !== 0;
      case 10:
        return safeNumber(v.getBigUint64(at, true));
      case 11:
        return safeNumber(v.getBigInt64(at, true));
      default:
        return v.getFloat64(at, true);
    }
  }

  text(length: number): string {
    const start = this.pos;
    this.pos += length;
    // Most vocabulary entries are short ASCII; decoding those by hand is several times faster.
    if (length <= 24) {
      let text = '';
      for (let i = start; i < start + length; i++) {
        const byte = this.bytes[i];
        if (byte >= 0x80) return utf8.decode(this.bytes.subarray(start, start + length));
        text += String.fromCharCode(byte);
      }
      return text;
    }
    return utf8.decode(this.bytes.subarray(start, start + length));
  }
}

function safeNumber(value: bigint): number | bigint {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}

function tooLarge(
  source: ModelSource,
  what: string,
  value: bigint | number,
  limit: bigint | number,
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

/** A string's length field (its 8 bytes already read in), checked against the limit and the file. */
function stringLength(
  r: HeaderReader,
  source: ModelSource,
  what: string,
  subject?: string,
): number {
  const length = r.u64();
  if (length > BigInt(HEADER_LIMITS.stringBytes)) {
    throw tooLarge(source, `${what} length`, length, HEADER_LIMITS.stringBytes, subject);
  }
  if (length > BigInt(r.remaining()))
    throw overrun(source, `${what} length`, length, length, subject);
  return Number(length);
}

async function readString(
  r: HeaderReader,
  source: ModelSource,
  what: string,
  subject?: string,
): Promise<string> {
  if (!r.has(8)) await r.need(8, what);
  const length = stringLength(r, source, what, subject);
  if (!r.has(length)) await r.need(length, what);
  return r.text(length);
}

/** Reads one value, counting its bytes against the per-value limit as it goes. */
class ValueReader {
  private start = 0;
  private readonly stringWhat: string;

  constructor(
    private readonly r: HeaderReader,
    private readonly source: ModelSource,
    private readonly key: string,
  ) {
    this.stringWhat = `a string in "${key}"`;
  }

  async read(type: number): Promise<unknown> {
    this.start = this.r.pos;
    return this.value(type, 0);
  }

  /** Refuses the value once it (with `ahead` more bytes) passes the per-value limit. */
  private checkSize(ahead = 0): void {
    const bytes = this.r.pos - this.start + ahead;
    if (bytes > HEADER_LIMITS.valueBytes) {
      throw new GgufFormatError(
        'absurd-count',
        `${this.source.name}: metadata "${this.key}" takes more than ${HEADER_LIMITS.valueBytes >> 20} MiB, more than any model header needs (a million-token vocabulary takes about 20 MB): the header is damaged; download the file again.`,
        this.key,
      );
    }
  }

  private async value(type: number, depth: number): Promise<unknown> {
    const { r, source, key } = this;
    if (type === STRING) return readString(r, source, this.stringWhat, key);
    const size = SCALAR_BYTES[type];
    if (size !== undefined) {
      if (!r.has(size)) await r.need(size, `the value of "${key}"`);
      return r.scalar(type);
    }
    if (type !== ARRAY || depth >= HEADER_LIMITS.arrayDepth) {
      throw new GgufFormatError(
        'bad-metadata',
        type === ARRAY
          ? `Metadata "${key}" nests arrays more than ${HEADER_LIMITS.arrayDepth} deep: the header is damaged; download the file again.`
          : `Metadata "${key}" has value type ${type}, which GGUF does not define: the header is damaged; download the file again.`,
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
    if (count > BigInt(HEADER_LIMITS.arrayItems)) {
      throw tooLarge(source, `an array "${key}" length`, count, HEADER_LIMITS.arrayItems, key);
    }
    const arrayBytes = count * BigInt(itemSize);
    if (arrayBytes > BigInt(r.remaining())) {
      throw overrun(source, `an array "${key}" length`, count, arrayBytes, key);
    }
    const n = Number(count);
    if (SCALAR_BYTES[itemType] !== undefined) {
      this.checkSize(n * itemSize);
      await r.need(n * itemSize, `the array "${key}"`);
      const items = new Array<unknown>(n);
      for (let i = 0; i < n; i++) items[i] = r.scalar(itemType);
      return items;
    }
    const items = new Array<unknown>(n);
    if (itemType === STRING) {
      // Vocabularies: a million strings, so no promise per string unless bytes must be read.
      const what = this.stringWhat;
      for (let i = 0; i < n; i++) {
        if (!r.has(8)) await r.need(8, what);
        const length = stringLength(r, source, what, key);
        if (!r.has(length)) await r.need(length, what);
        items[i] = r.text(length);
        this.checkSize();
      }
      return items;
    }
    for (let i = 0; i < n; i++) {
      items[i] = await this.value(itemType, depth + 1);
      this.checkSize();
    }
    return items;
  }
}

/**
 * Reads and validates the header's structure, throwing a GgufFormatError that names the first
 * problem. Tensor infos are returned as written; their placement is checked by the caller.
 */
export async function readHeader(source: ModelSource, signal?: AbortSignal): Promise<RawHeader> {
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
  // Counts past the limits are refused before a byte of the entries is read; below them, a count
  // is checked against the file (smallest entries: a key length, a type tag and a one-byte value;
  // a name length, n_dims, one dimension, type and offset).
  if (kvCount > BigInt(HEADER_LIMITS.metadataEntries)) {
    throw tooLarge(
      source,
      'a metadata entry count',
      kvCount,
      HEADER_LIMITS.metadataEntries,
      'kv_count',
    );
  }
  if (tensorCount > BigInt(HEADER_LIMITS.tensors)) {
    throw tooLarge(source, 'a tensor count', tensorCount, HEADER_LIMITS.tensors, 'tensor_count');
  }
  if (kvCount * 13n > BigInt(r.remaining())) {
    throw overrun(source, 'a metadata entry count', kvCount, kvCount * 13n, 'kv_count');
  }
  if (tensorCount * 32n > BigInt(r.remaining())) {
    throw overrun(source, 'a tensor count', tensorCount, tensorCount * 32n, 'tensor_count');
  }
  const metadata: Record<string, unknown> = Object.create(null);
  const valueTypes = new Map<string, number>();
  for (let i = 0; i < Number(kvCount); i++) {
    const key = await readString(r, source, `metadata key #${i}`);
    if (valueTypes.has(key)) {
      throw new GgufFormatError(
        'duplicate-key',
        `${source.name} sets metadata "${key}" twice: the header is damaged or was written wrongly; download or convert the file again.`,
        key,
      );
    }
    await r.need(4, `the type of "${key}"`);
    const type = r.u32();
    metadata[key] = await new ValueReader(r, source, key).read(type);
    valueTypes.set(key, type);
  }
  const tensors: RawTensorInfo[] = [];
  for (let i = 0; i < Number(tensorCount); i++) {
    const name = await readString(r, source, `tensor name #${i}`);
    await r.need(4, `the dimensions of "${name}"`);
    const nDims = r.u32();
    if (nDims < 1 || nDims > MAX_DIMS) {
      throw new GgufFormatError(
        'absurd-count',
        `Tensor "${name}" claims ${nDims} dimensions; GGUF tensors have 1 to ${MAX_DIMS}: the header is damaged; download the file again.`,
        name,
      );
    }
    await r.need(nDims * 8 + 12, `the info of tensor "${name}"`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const size = r.u64();
      if (size > PLAUSIBLE_BYTES) {
        throw new GgufFormatError(
          'absurd-count',
          `Tensor "${name}" claims a dimension of ${size}: the header is damaged; download the file again.`,
          name,
        );
      }
      dims.push(Number(size));
    }
    const type = r.u32();
    tensors.push({ name, dims, type, offset: r.u64() });
  }
  return { version, metadata, valueTypes, tensors, headerBytes: r.pos };
}
