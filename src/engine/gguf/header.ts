// Reads a GGUF header (metadata and tensor infos) from any ModelSource through @huggingface/gguf,
// touching only the header bytes, and validates it before anyone allocates for it: counts against
// the file size, tensor offsets inside the file, the tensors and shapes the architecture needs.

import { gguf } from '@huggingface/gguf';
import { GgufFormatError, SourceReadError } from './errors.ts';
import { scanHeader } from './header-scan.ts';
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

const SOURCE_URI = 'http://model-source.invalid/model.gguf';

function truncated(source: ModelSource, what: string): GgufFormatError {
  return new GgufFormatError(
    'truncated',
    `${source.name} ends (${source.size} bytes) before ${what}: the file is truncated; download it again.`,
  );
}

/**
 * A fetch that answers the parser's Range requests from the bytes the scan already read, which
 * hold the whole header: the parser reads ahead in 2 MB chunks, and what lies past the header it
 * never looks at, so it gets nothing from there and the source is not read twice.
 */
function prefixFetch(prefix: Uint8Array, size: number): typeof fetch {
  return (async (_input: unknown, init?: RequestInit) => {
    const range = new Headers(init?.headers).get('Range')?.match(/bytes=(\d+)-(\d+)/);
    if (!range) throw new Error('header parser sent a request without a byte range');
    const start = Number(range[1]);
    const end = Math.min(Number(range[2]) + 1, prefix.byteLength);
    const body = start < end ? prefix.slice(start, end) : new Uint8Array(0);
    const headers = { 'content-range': `bytes ${start}-${start + body.byteLength - 1}/${size}` };
    return new Response(body, { status: 206, headers });
  }) as typeof fetch;
}

function libraryError(source: ModelSource, err: unknown): Error {
  if (err instanceof GgufFormatError || err instanceof SourceReadError) return err;
  if (err instanceof DOMException && err.name === 'AbortError') return err;
  if (err instanceof RangeError) return truncated(source, 'the end of its header');
  const message = err instanceof Error ? err.message : String(err);
  if (/exceeds (the )?maximum|Exceeded maximum/.test(message)) {
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
  raw: { name: string; shape: bigint[]; dtype: number; offset: bigint },
  dataOffset: number,
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
  if (raw.offset > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new GgufFormatError(
      'offset-out-of-range',
      `Tensor "${raw.name}" claims data offset ${raw.offset}, beyond any file: the header is damaged; download the file again.`,
      raw.name,
    );
  }
  const offset = dataOffset + Number(raw.offset);
  return { name: raw.name, type: raw.dtype, dims, offset, bytes };
}

/**
 * Every tensor must sit, aligned, inside the data section its own header describes (the padded
 * sizes of all tensors); past that, the offset is a lie. Inside it but past the end of the file,
 * the file was cut short.
 */
function checkPlacement(
  source: ModelSource,
  header: { tensors: TensorInfo[]; dataOffset: number },
  alignment: number,
  allowMissingData: boolean,
): void {
  const dataBytes = header.tensors.reduce(
    (sum, t) => sum + Math.ceil(t.bytes / alignment) * alignment,
    0,
  );
  for (const t of header.tensors) {
    const relative = t.offset - header.dataOffset;
    if (relative % alignment || relative + t.bytes > dataBytes) {
      throw new GgufFormatError(
        'offset-out-of-range',
        `Tensor "${t.name}" lies at offset ${relative} (${t.bytes} bytes) of a ${dataBytes}-byte data section${relative % alignment ? `, not aligned to ${alignment} bytes` : ''}: the header is damaged; download the file again.`,
        t.name,
      );
    }
    if (!allowMissingData && t.offset + t.bytes > source.size) {
      throw truncated(source, `the end of tensor "${t.name}" (byte ${t.offset + t.bytes})`);
    }
  }
}

export async function parseHeader(
  source: ModelSource,
  options: ParseHeaderOptions = {},
): Promise<ModelHeader> {
  const prefix = await scanHeader(source, options.signal);
  let parsed;
  try {
    parsed = await gguf(SOURCE_URI, { fetch: prefixFetch(prefix, source.size) });
  } catch (err) {
    throw libraryError(source, err);
  }
  const metadata = plainMetadata(parsed.metadata as Record<string, unknown>);
  const alignment = Number(metadata['general.alignment'] ?? 32);
  if (
    !Number.isInteger(alignment) ||
    alignment < 1 ||
    alignment > 65536 ||
    alignment & (alignment - 1)
  ) {
    throw new GgufFormatError(
      'bad-metadata',
      `general.alignment is ${String(metadata['general.alignment'])}; GGUF needs a power of two: the header is damaged.`,
      'general.alignment',
    );
  }
  const dataOffset = Number(parsed.tensorDataOffset);
  const tensors = parsed.tensorInfos.map((t) => tensorInfo(t, dataOffset));
  checkPlacement(source, { tensors, dataOffset }, alignment, options.allowMissingData ?? false);
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
