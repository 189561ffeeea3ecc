// A model source over a file on disk, for the CLI and the tests. The only module in src/engine that
// imports node:fs; the browser build never reaches it.

import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import { SourceReadError } from './errors.ts';
import type { ModelSource } from './types.ts';

export interface FileModelSource extends ModelSource {
  close(): Promise<void>;
}

export async function openFileSource(path: string): Promise<FileModelSource> {
  const handle: FileHandle = await open(path, 'r');
  const { size } = await handle.stat();
  const name = basename(path);
  return {
    name,
    size,
    async read(offset, length) {
      if (
        !Number.isSafeInteger(offset) ||
        !Number.isSafeInteger(length) ||
        offset < 0 ||
        length < 0 ||
        offset + length > size
      ) {
        throw new SourceReadError(
          'out-of-range',
          `Read of ${length} bytes at ${offset} runs past the end of ${path} (${size} bytes): the file is shorter than its header says.`,
        );
      }
      const bytes = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(bytes, done, length - done, offset + done);
        if (bytesRead === 0) {
          throw new SourceReadError(
            'short-read',
            `${path} ended after ${offset + done} bytes while reading ${length} at ${offset}: the file was truncated while open.`,
          );
        }
        done += bytesRead;
      }
      return bytes;
    },
    close: () => handle.close(),
  };
}
