// The Models view reads headers through a worker of its own. Here the worker's message handler
// runs behind an in-process stand-in for a Worker (Node has no Web Workers): what crosses the
// boundary is the planning header only, errors keep their class and code, and giving up
// terminates the worker at once.
import { describe, expect, it } from 'vitest';
import { GgufFormatError } from '../../src/engine/gguf/errors.ts';
import { readHeaderInWorker, type HeaderWorkerLike } from '../../src/engine/header-client.ts';
import {
  serveHeaderRequests,
  type HeaderRequest,
  type HeaderResponse,
} from '../../src/engine/header-worker.ts';
import { blobSource } from '../../src/engine/gguf/source.ts';
import type { GgufSourceRef } from '../../src/engine/messages.ts';
import type { ModelSource } from '../../src/engine/gguf/types.ts';
import { FIXTURES, REAL_SHAPES, buildFixture, headerOnlyModel } from '../fixtures/gguf/models.ts';
import { arr, ValueType, writeGguf } from '../fixtures/gguf/writer.ts';

interface StandIn extends HeaderWorkerLike {
  terminated: boolean;
  /** Structured clones of what the worker posted. */
  posted: HeaderResponse[];
}

/** A Worker stand-in: messages cross as structured clones, as between threads. */
function standIn(open: (ref: GgufSourceRef) => Promise<ModelSource>): StandIn {
  let handler: ((event: MessageEvent<HeaderRequest>) => void) | undefined;
  const worker: StandIn = {
    terminated: false,
    posted: [],
    onmessage: null,
    onerror: null,
    postMessage(message) {
      queueMicrotask(() => handler?.({ data: structuredClone(message) } as MessageEvent));
    },
    terminate() {
      worker.terminated = true;
    },
  };
  serveHeaderRequests(
    {
      postMessage(response) {
        if (worker.terminated) return;
        const copy = structuredClone(response);
        worker.posted.push(copy);
        worker.onmessage?.({ data: copy } as MessageEvent<HeaderResponse>);
      },
      addEventListener: (_type, listener) => void (handler = listener),
    },
    open,
  );
  return worker;
}

const fileRef = (bytes: Uint8Array): GgufSourceRef => ({
  type: 'file',
  file: new Blob([new Uint8Array(bytes)]),
  name: 'model.gguf',
});

describe('headers read in a worker', () => {
  it('a million-token vocabulary: the page receives the planning header, without the vocabulary', async () => {
    const bytes = headerOnlyModel(REAL_SHAPES['Llama-3.1-8B-Q4_K_M'], {
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.tokens': arr(
        ValueType.STRING,
        Array.from({ length: 1_000_000 }, (_, i) => `t${i}`),
      ),
    });
    // The header of an 8B model's file, the weights after it read as zeros.
    const file: ModelSource = {
      name: 'model.gguf',
      size: 2 ** 40,
      read: async (offset, length) => {
        const out = new Uint8Array(length);
        if (offset < bytes.length) out.set(bytes.subarray(offset, offset + length));
        return out;
      },
    };
    let worker: StandIn | undefined;
    const header = await readHeaderInWorker(
      { type: 'url', url: 'http://127.0.0.1:9/model.gguf' },
      { createWorker: () => (worker = standIn(async () => file)) },
    );
    expect(header.hparams.blockCount).toBe(32);
    expect(header.metadata['tokenizer.ggml.tokens']).toBeUndefined();
    const crossed = JSON.stringify(worker!.posted).length;
    expect(crossed).toBeLessThan(bytes.byteLength / 10);
    expect(worker!.terminated).toBe(true);
  }, 60_000);

  it('a lying header: the error keeps its class, code and subject across the boundary', async () => {
    const built = buildFixture(FIXTURES.find((f) => f.id === 'qwen2-q8_0')!);
    const bytes = writeGguf(built.metadata, built.tensors).bytes;
    new DataView(bytes.buffer).setBigUint64(16, 5_000_000n, true);
    const error = await readHeaderInWorker(fileRef(bytes), {
      createWorker: () =>
        standIn(async (ref) => blobSource((ref as { file: Blob }).file, 'model.gguf')),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GgufFormatError);
    expect(error).toMatchObject({ code: 'absurd-count', subject: 'kv_count' });
  });

  it('an unreachable host arrives as the TypeError fetch() throws; a parse TypeError does not', async () => {
    const unreachable = await readHeaderInWorker(
      { type: 'url', url: 'http://127.0.0.1:9/x.gguf' },
      {
        createWorker: () =>
          standIn(async () => {
            throw new TypeError('fetch failed');
          }),
      },
    ).catch((e: unknown) => e);
    expect(unreachable).toBeInstanceOf(TypeError);
    const broken: ModelSource = {
      name: 'x.gguf',
      size: 100,
      read: async () => {
        throw new TypeError('a bug while parsing');
      },
    };
    const parse = await readHeaderInWorker(
      { type: 'url', url: 'http://127.0.0.1:9/x.gguf' },
      { createWorker: () => standIn(async () => broken) },
    ).catch((e: unknown) => e);
    expect(parse).not.toBeInstanceOf(TypeError);
    expect((parse as Error).message).toBe('a bug while parsing');
  });

  it('giving up terminates the worker at once, even while its read never ends', async () => {
    let worker: StandIn | undefined;
    const stuck: ModelSource = {
      name: 'slow.gguf',
      size: 1 << 20,
      read: () => new Promise(() => {}),
    };
    const controller = new AbortController();
    const pending = readHeaderInWorker(
      { type: 'url', url: 'http://127.0.0.1:9/slow.gguf' },
      { signal: controller.signal, createWorker: () => (worker = standIn(async () => stuck)) },
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(worker!.terminated).toBe(true);
    expect(worker!.posted).toEqual([]);
  });
});
