// Reads a GGUF header (metadata and tensor infos) from any ModelSource, touching only the header
// bytes (header-scan.ts), and validates it before anyone allocates for it as llama.cpp does:
// counts against the file size, `general.alignment` a power-of-two uint32, tensors laid out one
// after another in the data section, the tensors and shapes the architecture needs and no others.

import { GgufFormatError } from './errors.ts';
import { GgufValueType, readHeader, type RawTensorInfo } from './header-scan.ts';
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

const DEFAULT_ALIGNMENT = 32;

function truncated(source: ModelSource, what: string): GgufFormatError {
  return new GgufFormatError(
    'truncated',
    `${source.name} ends (${source.size} bytes) before ${what}: the file is truncated; download it again.`,
  );
}

function tensorInfo(raw: RawTensorInfo, dataOffset: number): TensorInfo {
  const dims = raw.dims;
  const layout = BLOCK_LAYOUT[raw.type as keyof typeof BLOCK_LAYOUT];
  if (!layout) {
    throw new GgufFormatError(
      'unsupported-type',
      `Tensor "${raw.name}" has type ${typeName(raw.type)}, which this engine does not know: use a file quantized as F16, BF16, Q8_0, Q6_K, Q5_K_M or Q4_K_M.`,
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
      `Tensor "${raw.name}" has shape [${dims.join(', ')}], which ${typeName(raw.type)} (blocks of ${layout.values}) cannot store: the header is damaged.`,
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
  return { name: raw.name, type: raw.type, dims, offset, bytes };
}

/** llama.cpp reads `general.alignment` as a uint32 power of two and refuses anything else. */
function alignmentOf(
  metadata: Record<string, unknown>,
  types: ReadonlyMap<string, number>,
): number {
  const key = 'general.alignment';
  const type = types.get(key);
  if (type === undefined) return DEFAULT_ALIGNMENT;
  const value = metadata[key];
  if (type !== GgufValueType.UINT32) {
    throw new GgufFormatError(
      'bad-metadata',
      `${key} is stored as GGUF value type ${type}, not uint32 (type ${GgufValueType.UINT32}), as llama.cpp requires: the header was written wrongly; convert the model again.`,
      key,
    );
  }
  const alignment = value as number;
  if (alignment < 1 || alignment > 65536 || alignment & (alignment - 1)) {
    throw new GgufFormatError(
      'bad-metadata',
      `${key} is ${alignment}; GGUF needs a power of two: the header is damaged.`,
      key,
    );
  }
  return alignment;
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

/**
 * As llama.cpp reads a file: each tensor starts where the one before it ends, padded to the
 * alignment. Two tensors at one offset (all at zero, say) would read each other's bytes, and a
 * gap would be bytes no tensor owns; llama.cpp refuses both.
 */
function checkSequence(
  source: ModelSource,
  header: { tensors: TensorInfo[]; dataOffset: number },
  alignment: number,
): void {
  let expected = 0;
  let previous: TensorInfo | undefined;
  for (const t of header.tensors) {
    const relative = t.offset - header.dataOffset;
    if (relative !== expected) {
      const where =
        relative < expected
          ? previous
            ? `inside tensor "${previous.name}" (bytes ${previous.offset - header.dataOffset} to ${expected})`
            : 'before the data section'
          : `${relative - expected} bytes past the end of ${previous ? `tensor "${previous.name}"` : 'the start of the data section'}`;
      throw new GgufFormatError(
        'misplaced-tensor',
        `Tensor "${t.name}" in ${source.name} starts at offset ${relative} of the data section, ${where}; it should start at ${expected}: the header is damaged; download the file again.`,
        t.name,
      );
    }
    expected += Math.ceil(t.bytes / alignment) * alignment;
    previous = t;
  }
}

export async function parseHeader(
  source: ModelSource,
  options: ParseHeaderOptions = {},
): Promise<ModelHeader> {
  const raw = await readHeader(source, options.signal);
  const { metadata } = raw;
  const alignment = alignmentOf(metadata, raw.valueTypes);
  const dataOffset = Math.ceil(raw.headerBytes / alignment) * alignment;
  const tensors = raw.tensors.map((t) => tensorInfo(t, dataOffset));
  checkPlacement(source, { tensors, dataOffset }, alignment, options.allowMissingData ?? false);
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) {
      throw new GgufFormatError(
        'duplicate-tensor',
        `Tensor "${t.name}" appears twice in ${source.name}: the header is damaged.`,
        t.name,
      );
    }
    names.add(t.name);
  }
  checkSequence(source, { tensors, dataOffset }, alignment);
  const hparams = deriveHparams(metadata, tensors);
  checkTensorLayout(hparams, tensors);
  return { version: raw.version, metadata, tensors, dataOffset, hparams };
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
