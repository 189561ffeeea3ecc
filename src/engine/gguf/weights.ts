// Weights from a ModelSource to the GPU: each group (a transformer layer, the head, the token
// embedding) is read tensor by tensor in bounded chunks of whole rows, repacked, and written at
// its place in the group's buffer. The same path builds a layer's host-side packed image, which is
// what a streamed layer keeps in host memory and uploads into a slot buffer.
import { quantizeRows } from './quantize-on-load';
import { interleaveRowGroups, repackRows, vectorToF32 } from './repack';
import type { GroupLayout } from './layout';
import { storedBytes, type ModelSource } from './types';

/** Bytes read from the source at a time (whole rows; a single row may exceed it). */
export const READ_CHUNK_BYTES = 8 << 20;

export type PackedChunkSink = (offset: number, bytes: Uint8Array) => void | Promise<void>;

async function readExactly(
  source: ModelSource,
  offset: number,
  length: number,
  what: string,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const bytes = await source.read(offset, length, signal);
  if (bytes.length !== length) {
    throw new Error(
      `${source.name}: reading ${what} returned ${bytes.length} of ${length} bytes at offset ` +
        `${offset}; the file is truncated or the connection dropped. Download the model again.`,
    );
  }
  return bytes;
}

/** Calls `sink` with every packed piece of the group, in buffer order, each at most a chunk. */
export async function forEachPackedChunk(
  source: ModelSource,
  layout: GroupLayout,
  sink: PackedChunkSink,
  options: { chunkBytes?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const chunkBytes = options.chunkBytes ?? READ_CHUNK_BYTES;
  for (const v of layout.vectors.values()) {
    const bytes = await readExactly(
      source,
      v.info.offset,
      v.info.bytes,
      v.info.name,
      options.signal,
    );
    const f32 = vectorToF32(v.info, bytes);
    await sink(v.index * 4, new Uint8Array(f32.buffer));
  }
  for (const m of layout.matrices.values()) {
    const sourceType = m.info.sourceType ?? m.type;
    const srcRow = storedBytes(sourceType, m.rowLength);
    // Whole row groups per chunk: a group is interleaved as one.
    const rowsPerChunk = Math.max(1, Math.floor(chunkBytes / srcRow / m.rowGroup)) * m.rowGroup;
    for (const part of m.parts) {
      for (let r = 0; r < part.rows; r += rowsPerChunk) {
        options.signal?.throwIfAborted();
        const rows = Math.min(rowsPerChunk, part.rows - r);
        const src = await readExactly(
          source,
          m.info.offset + (part.rowStart + r) * srcRow,
          rows * srcRow,
          m.info.name,
          options.signal,
        );
        const stored =
          sourceType === m.type ? src : quantizeRows(m.info, sourceType, m.rowLength, src);
        const packed = new Uint8Array(rows * m.rowBytes);
        repackRows(m.type, m.rowLength, stored, packed);
        let out = packed;
        if (m.rowGroup > 1) {
          out = new Uint8Array(packed.length);
          interleaveRowGroups(m.rowLength, m.rowGroup, packed, out);
        }
        await sink(part.offset + r * m.rowBytes, out);
      }
    }
  }
}

/** The group's packed image in host memory, byte for byte what its GPU buffer holds. */
export async function packGroupImage(
  source: ModelSource,
  layout: GroupLayout,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const image = new Uint8Array(layout.bytes);
  await forEachPackedChunk(source, layout, (offset, bytes) => image.set(bytes, offset), { signal });
  return image;
}

/** Writes the group into `buffer` (created by the caller with COPY_DST) chunk by chunk. */
export async function uploadGroup(
  device: GPUDevice,
  buffer: GPUBuffer,
  source: ModelSource,
  layout: GroupLayout,
  options: { signal?: AbortSignal; onBytes?: (bytes: number) => void } = {},
): Promise<void> {
  await forEachPackedChunk(
    source,
    layout,
    (offset, bytes) => {
      device.queue.writeBuffer(buffer, offset, bytes.buffer, bytes.byteOffset, bytes.byteLength);
      options.onBytes?.(bytes.byteLength);
    },
    { signal: options.signal },
  );
}
