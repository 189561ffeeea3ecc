// Reads a GGUF header (metadata and tensor infos) from any ModelSource through @huggingface/gguf,
// touching only the header bytes, and validates it before anyone allocates for it: counts against
// the file size, tensor offsets inside the file, the tensors and shapes the architecture needs.

import { gguf } from '@huggingface/gguf';
import { GgufFormatError, SourceReadError } from './errors.ts';
import { deriveHparams } from './hparams.ts';
import { checkTensorLayout } from './tensor-layout.ts';
import {
  BLOCK_LAYOUT,
  ENGINE_TYPES,
  typeName,
  type ModelHeader,
  type ModelSource,
  type TensorInfo,
} from './types.ts';

export interface ParseHeaderOptions {
  /**
   * Accept tensor data that lies past the end of the source: for header-only files written for
   * planning, which stop after the tensor infos. Everything else is validated as usual.
   */
  allowMissingData?: boolean;
  signal?: AbortSignal;
}

const FIXED_HEADER_BYTES = 24;
// Smallest possible entries: an empty key (8-byte length), a type tag and a one-byte value; an
// empty tensor name, n_dims, type and offset.
const MIN_KV_BYTES = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;
const SOURCE_URI = 'http://model-source.invalid/model.gguf';

function truncated(source: ModelSource, what: string): GgufFormatError {
  return new GgufFormatError(
    'truncated',
    `${source.name} ends (${source.size} bytes) before ${what}: the file is truncated; download it again.`,
  );
}

async function checkPreamble(source: ModelSource, signal?: AbortSignal): Promise<void> {
  if (source.size < FIXED_HEADER_BYTES) throw truncated(source, 'the 24-byte GGUF preamble');
  const view = new DataView((await source.read(0, FIXED_HEADER_BYTES, signal)).slice().buffer);
  const magic = String.fromCharCode(
    view.getUint8(0),
    view.getUint8(1),
    view.getUint8(2),
    view.getUint8(3),
  );
  if (magic !== 'GGUF') {
    throw new GgufFormatError(
      'bad-magic',
      `${source.name} does not start with "GGUF" (found ${JSON.stringify(magic)}): it is not a GGUF model file; choose a .gguf file.`,
    );
  }
  const version = view.getUint32(4, true);
  if (version !== 2 && version !== 3) {
    throw new GgufFormatError(
      'bad-version',
      `${source.name} is GGUF version ${version}; this engine reads versions 2 and 3 (little-endian): convert the model again with a current llama.cpp.`,
    );
  }
  const tensorCount = view.getBigUint64(8, true);
  const kvCount = view.getBigUint64(16, true);
  const room = BigInt(source.size - FIXED_HEADER_BYTES);
  if (tensorCount * BigInt(MIN_TENSOR_INFO_BYTES) > room) {
    throw new GgufFormatError(
      'absurd-count',
      `${source.name} claims ${tensorCount} tensors, more than its ${source.size} bytes can describe: the header is damaged; download the file again.`,
      'tensor_count',
    );
  }
  if (kvCount * BigInt(MIN_KV_BYTES) > room) {
    throw new GgufFormatError(
      'absurd-count',
      `${source.name} claims ${kvCount} metadata entries, more than its ${source.size} bytes can hold: the header is damaged; download the file again.`,
      'kv_count',
    );
  }
}

/**
 * A fetch that answers the parser's Range requests from the source. The parser reads ahead in
 * 2 MB chunks; past the end it gets an empty body once (a legitimate read-ahead), and a second
 * request past the end means the parser has run off the file.
 */
function sourceFetch(source: ModelSource, signal?: AbortSignal): typeof fetch {
  let pastEnd = 0;
  return (async (_input: unknown, init?: RequestInit) => {
    const range = new Headers(init?.headers).get('Range')?.match(/bytes=(\d+)-(\d+)/);
    if (!range) throw new Error('header parser sent a request without a byte range');
    const start = Number(range[1]);
    const end = Math.min(Number(range[2]) + 1, source.size);
    const headers = { 'content-range': `bytes ${start}-${end - 1}/${source.size}` };
    if (start >= source.size) {
      if (++pastEnd > 1) throw truncated(source, 'the end of its header');
      return new Response(new Uint8Array(0), { status: 206, headers });
    }
    const bytes = await source.read(start, end - start, signal);
    return new Response(bytes.slice(), { status: 206, headers });
  }) as typeof fetch;
}

function libraryError(source: ModelSource, err: unknown): Error {
  if (err instanceof GgufFormatError || err instanceof SourceReadError) return err;
  if (err instanceof DOMException && err.name === 'AbortError') return err;
  if (err instanceof RangeError) return truncated(source, 'the end of its header');
  const message = err instanceof Error ? err.message : String(err);
  if (/exceeds maximum|Exceeded maximum/.test(message)) {
    return new GgufFormatError(
      'absurd-count',
      `${source.name}: ${message}: the header is damaged; download the file again.`,
    );
  }
  return new GgufFormatError(
    'bad-metadata',
    `${source.name}: ${message}: the header is damaged; download the file again.`,
  );
}

function plainMetadata(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'version' || key === 'tensor_count' || key === 'kv_count') continue;
    out[key] =
      typeof value === 'bigint' &&
      value <= BigInt(Number.MAX_SAFE_INTEGER) &&
      value >= -BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(value)
        : value;
  }
  return out;
}

function tensorInfo(
  source: ModelSource,
  raw: { name: string; shape: bigint[]; dtype: number; offset: bigint },
  dataOffset: number,
  alignment: number,
  allowMissingData: boolean,
): TensorInfo {
  const dims = raw.shape.map(Number);
  const layout = BLOCK_LAYOUT[raw.dtype as keyof typeof BLOCK_LAYOUT];
  if (!layout) {
    throw new GgufFormatError(
      'unsupported-type',
      `Tensor "${raw.name}" has type ${typeName(raw.dtype)}, which this engine does not know: use a file quantized as F16, BF16, Q8_0, Q6_K, Q5_K_M or Q4_K_M.`,
      raw.name,
    );
  }
  const elements = dims.reduce((a, b) => a * b, 1);
  if (
    dims.length === 0 ||
    dims.some((d) => d <= 0) ||
    !Number.isSafeInteger(elements) ||
    dims[0] % layout.values
  ) {
    throw new GgufFormatError(
      'shape-mismatch',
      `Tensor "${raw.name}" has shape [${dims.join(', ')}], which ${typeName(raw.dtype)} (blocks of ${layout.values}) cannot store: the header is damaged.`,
      raw.name,
    );
  }
  const bytes = (elements / layout.values) * layout.bytes;
  const relative = Number(raw.offset);
  const offset = dataOffset + relative;
  const outside =
    raw.offset > BigInt(Number.MAX_SAFE_INTEGER) ||
    (!allowMissingData && offset + bytes > source.size);
  if (outside || relative % alignment) {
    throw new GgufFormatError(
      'offset-out-of-range',
      `Tensor "${raw.name}" lies at ${raw.offset} + ${bytes} bytes past the data start ${dataOffset}, ${outside ? `beyond the end of the ${source.size}-byte file` : `not aligned to ${alignment} bytes`}: the file is truncated or damaged; download it again.`,
      raw.name,
    );
  }
  return { name: raw.name, type: raw.dtype, dims, offset, bytes };
}

export async function parseHeader(
  source: ModelSource,
  options: ParseHeaderOptions = {},
): Promise<ModelHeader> {
  await checkPreamble(source, options.signal);
  let parsed;
  try {
    parsed = await gguf(SOURCE_URI, { fetch: sourceFetch(source, options.signal) });
  } catch (err) {
    throw libraryError(source, err);
  }
  if (parsed.tensorInfoByteRange[1] > source.size)
    throw truncated(source, 'the end of its tensor infos');
  const metadata = plainMetadata(parsed.metadata as Record<string, unknown>);
  const alignment = Number(metadata['general.alignment'] ?? 32);
  const dataOffset = Number(parsed.tensorDataOffset);
  const tensors = parsed.tensorInfos.map((t) =>
    tensorInfo(source, t, dataOffset, alignment, options.allowMissingData ?? false),
  );
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) {
      throw new GgufFormatError(
        'bad-metadata',
        `Tensor "${t.name}" appears twice in ${source.name}: the header is damaged.`,
        t.name,
      );
    }
    names.add(t.name);
  }
  const hparams = deriveHparams(metadata, tensors);
  checkTensorLayout(hparams, tensors);
  return { version: Number(parsed.metadata.version), metadata, tensors, dataOffset, hparams };
}

/** Refuses the first tensor whose type the engine cannot compute with (the planner may still read such headers). */
export function checkSupported(header: ModelHeader): void {
  const bad = header.tensors.find((t) => !ENGINE_TYPES.has(t.type));
  if (bad) {
    throw new GgufFormatError(
      'unsupported-type',
      `Tensor "${bad.name}" is stored as ${typeName(bad.type)}, which this engine cannot run: use a file quantized as F16, BF16, Q8_0, Q6_K, Q5_K_M or Q4_K_M.`,
      bad.name,
    );
  }
}

/** Yields a tensor's stored bytes in chunks of at most `chunkBytes`, never the whole file. */
export async function* readTensor(
  source: ModelSource,
  info: TensorInfo,
  chunkBytes = 8 << 20,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  if (!(chunkBytes > 0))
    throw new RangeError(`readTensor: chunkBytes must be positive, got ${chunkBytes}`);
  for (let done = 0; done < info.bytes; done += chunkBytes) {
    signal?.throwIfAborted();
    yield await source.read(info.offset + done, Math.min(chunkBytes, info.bytes - done), signal);
  }
}
