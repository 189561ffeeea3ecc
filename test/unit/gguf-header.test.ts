import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GgufFormatError, SourceReadError } from '../../src/engine/gguf/errors.ts';
import { checkSupported, parseHeader, readTensor } from '../../src/engine/gguf/header.ts';
import { blobSource, bytesSource, openUrlSource } from '../../src/engine/gguf/source.ts';
import { openFileSource } from '../../src/engine/gguf/source-node.ts';
import { GGMLType } from '../../src/engine/gguf/types.ts';
import { ensureFixture } from '../fixtures/gguf/ensure.ts';
import { FIXTURES, REAL_SHAPES, buildFixture, headerOnlyModel } from '../fixtures/gguf/models.ts';
import {
  arr,
  bool,
  f32,
  f64,
  i16,
  i32,
  i64,
  i8,
  str,
  u16,
  u32,
  u64,
  u8,
  ValueType,
  writeGguf,
} from '../fixtures/gguf/writer.ts';

const spec = (id: string) => FIXTURES.find((f) => f.id === id)!;

describe('parseHeader on fixture models', () => {
  it.each(FIXTURES.map((f) => f.id))('%s: tensors, offsets and hparams as written', async (id) => {
    const built = buildFixture(spec(id));
    const written = writeGguf(built.metadata, built.tensors, built.options);
    const header = await parseHeader(bytesSource(written.bytes));
    expect(header.version).toBe(3);
    expect(header.dataOffset).toBe(written.dataOffset);
    expect(header.tensors).toEqual(written.tensors);
    const s = spec(id);
    const h = header.hparams;
    expect(h.architecture).toBe(s.architecture);
    expect([
      h.embeddingLength,
      h.feedForwardLength,
      h.headCount,
      h.headCountKv,
      h.blockCount,
    ]).toEqual([s.embd, s.ff, s.heads, s.headsKv, s.layers]);
    expect(h.keyLength).toBe(s.keyLength ?? s.embd / s.heads);
    expect(h.tiedEmbeddings).toBe(s.tied);
    // llama.cpp's LLAMA_ROPE_TYPE_NORM architectures pair adjacent values; the others NeoX halves.
    const adjacent = s.architecture === 'llama' || s.architecture === 'smollm3';
    expect(h.ropePairing).toBe(adjacent ? 'adjacent' : 'neox');
    expect(h.ropeScaling.type).toBe(s.ropeFreqs ? 'llama3' : 'none');
    expect(h.vocabSize).toBe((header.metadata['tokenizer.ggml.tokens'] as string[]).length);
    expect(() => checkSupported(header)).not.toThrow();
  });

  it('reads a file from disk and streams a tensor in bounded chunks equal to its stored bytes', async () => {
    const built = buildFixture(spec('qwen2-q8_0'));
    const source = await openFileSource(ensureFixture('qwen2-q8_0'));
    try {
      const header = await parseHeader(source);
      const name = 'blk.1.ffn_down.weight';
      const info = header.tensors.find((t) => t.name === name)!;
      const chunks: Uint8Array[] = [];
      for await (const chunk of readTensor(source, info, 4096)) chunks.push(chunk.slice());
      expect(chunks.every((c) => c.byteLength <= 4096)).toBe(true);
      expect(Buffer.concat(chunks)).toEqual(
        Buffer.from(built.tensors.find((t) => t.name === name)!.data!),
      );
    } finally {
      await source.close();
    }
  });

  it('honours general.alignment', async () => {
    const built = buildFixture(spec('llama-spm-q4_0'));
    const header = await parseHeader(
      bytesSource(writeGguf(built.metadata, built.tensors, built.options).bytes),
    );
    expect(header.dataOffset % 64).toBe(0);
    expect(header.tensors.every((t) => (t.offset - header.dataOffset) % 64 === 0)).toBe(true);
  });

  it('reads GGUF v2 as v3', async () => {
    const built = buildFixture(spec('smollm-bf16'));
    const header = await parseHeader(
      bytesSource(writeGguf(built.metadata, built.tensors, { version: 2 }).bytes),
    );
    expect(header.version).toBe(2);
    expect(header.tensors.find((t) => t.name === 'token_embd.weight')!.type).toBe(GGMLType.BF16);
  });

  it('round-trips metadata of every value type', async () => {
    const built = buildFixture(spec('llama-spm-f16'));
    const extra = {
      'test.u8': u8(200),
      'test.i8': i8(-100),
      'test.u16': u16(60000),
      'test.i16': i16(-30000),
      'test.u32': u32(4000000000),
      'test.i32': i32(-2000000000),
      'test.f32': f32(0.5),
      'test.f64': f64(Math.PI),
      'test.u64': u64(2n ** 40n),
      'test.i64': i64(-(2n ** 40n)),
      'test.big': u64(2n ** 63n),
      'test.bool': bool(false),
      'test.string': str('héllo 你好'),
      'test.array': arr(ValueType.ARRAY, [
        arr(ValueType.INT16, [1, -2]),
        arr(ValueType.INT16, [3]),
      ]),
    };
    const bytes = writeGguf({ ...built.metadata, ...extra }, built.tensors).bytes;
    const m = (await parseHeader(bytesSource(bytes))).metadata;
    expect(m['test.u8']).toBe(200);
    expect(m['test.i8']).toBe(-100);
    expect(m['test.u16']).toBe(60000);
    expect(m['test.i16']).toBe(-30000);
    expect(m['test.u32']).toBe(4000000000);
    expect(m['test.i32']).toBe(-2000000000);
    expect(m['test.f32']).toBe(0.5);
    expect(m['test.f64']).toBe(Math.PI);
    expect(m['test.u64']).toBe(2 ** 40);
    expect(m['test.i64']).toBe(-(2 ** 40));
    expect(m['test.big']).toBe(2n ** 63n);
    expect(m['test.bool']).toBe(false);
    expect(m['test.string']).toBe('héllo 你好');
    expect(m['test.array']).toEqual([[1, -2], [3]]);
  });
});

describe('header-only files of real shapes', () => {
  it('plans Llama-3.1-8B Q4_K_M from its header alone', async () => {
    const bytes = headerOnlyModel(REAL_SHAPES['Llama-3.1-8B-Q4_K_M']);
    expect(bytes.byteLength).toBeLessThan(64 * 1024);
    const header = await parseHeader(bytesSource(bytes), { allowMissingData: true });
    const h = header.hparams;
    expect([
      h.blockCount,
      h.embeddingLength,
      h.headCount,
      h.headCountKv,
      h.keyLength,
      h.vocabSize,
    ]).toEqual([32, 4096, 32, 8, 128, 128256]);
    expect(h.ropeScaling.type).toBe('llama3');
    const total = header.tensors.reduce((sum, t) => sum + t.bytes, 0);
    // Llama-3.1-8B-Instruct Q4_K_M is about 4.9 GB on the Hub.
    expect(total).toBeGreaterThan(4.3e9);
    expect(total).toBeLessThan(5.0e9);
    expect(header.tensors.find((t) => t.name === 'output.weight')!.type).toBe(GGMLType.Q6_K);
  });

  it('refuses the same file without allowMissingData: it ends before its tensor data', async () => {
    const bytes = headerOnlyModel(REAL_SHAPES['Qwen3-4B-Q4_K_M']);
    await expect(parseHeader(bytesSource(bytes))).rejects.toMatchObject({
      code: 'truncated',
    });
  });

  it.each(Object.keys(REAL_SHAPES))('%s parses', async (name) => {
    const shape = REAL_SHAPES[name as keyof typeof REAL_SHAPES];
    const header = await parseHeader(bytesSource(headerOnlyModel(shape)), {
      allowMissingData: true,
    });
    expect(header.hparams.tiedEmbeddings).toBe(shape.tied);
    expect(header.hparams.vocabSize).toBe(shape.vocabSize);
  });
});

describe('sources', () => {
  const bytes = () => {
    const built = buildFixture(spec('qwen3-q6_k'));
    return writeGguf(built.metadata, built.tensors).bytes;
  };
  let server: Server;
  let base: string;
  let requests: string[] = [];
  let served = 0;
  // A large vocabulary makes a header of several megabytes, read in growing chunks.
  const bigVocab = headerOnlyModel(REAL_SHAPES['Llama-3.1-8B-Q4_K_M'], {
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.tokens': arr(
      ValueType.STRING,
      Array.from({ length: 64000 }, (_, i) => `tok${i}`),
    ),
    'tokenizer.ggml.merges': arr(
      ValueType.STRING,
      Array.from({ length: 100000 }, (_, i) => `m${i} e${i}`),
    ),
  });
  beforeAll(async () => {
    const small = bytes();
    server = createServer((req, res) => {
      requests.push(`${req.url} ${req.headers.range ?? ''}`);
      const file = req.url === '/big.gguf' ? bigVocab : small;
      const range = req.headers.range?.match(/bytes=(\d+)-(\d+)/);
      if (req.url === '/missing.gguf') return res.writeHead(404).end();
      if (req.url === '/norange.gguf' || !range) return res.writeHead(200).end(Buffer.from(file));
      const start = Number(range[1]);
      const end = Math.min(Number(range[2]), file.byteLength - 1);
      const short = req.url === '/short.gguf' && start > 0 ? 1 : 0;
      res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${file.byteLength}` });
      served += end + 1 - short - start;
      res.end(Buffer.from(file.subarray(start, end + 1 - short)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('parses over HTTP with Range requests, reading only the header', async () => {
    requests = [];
    const source = await openUrlSource(`${base}/model.gguf`);
    expect(source.size).toBe(bytes().byteLength);
    const header = await parseHeader(source);
    expect(header.hparams.architecture).toBe('qwen3');
    // One probe for the size and one 2 MB read-ahead of the header.
    expect(requests.length).toBeLessThanOrEqual(3);
    const info = header.tensors.find((t) => t.name === 'output_norm.weight')!;
    const chunks: Uint8Array[] = [];
    for await (const chunk of readTensor(source, info)) chunks.push(chunk);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toEqual(bytes().subarray(info.offset, info.offset + info.bytes));
  });

  it('reads a multi-megabyte header over HTTP once, not once per pass', async () => {
    served = 0;
    const source = await openUrlSource(`${base}/big.gguf`);
    const header = await parseHeader(source, { allowMissingData: true });
    expect((header.metadata['tokenizer.ggml.tokens'] as string[]).length).toBe(64000);
    expect(bigVocab.byteLength).toBeGreaterThan(3e6);
    expect(served).toBeLessThanOrEqual(bigVocab.byteLength + 1);
  }, 60_000);

  it('reports a server without Range support, a missing file and a short read', async () => {
    await expect(openUrlSource(`${base}/norange.gguf`)).rejects.toMatchObject({
      code: 'no-range-support',
    });
    await expect(openUrlSource(`${base}/missing.gguf`)).rejects.toMatchObject({
      code: 'http-status',
    });
    const short = await openUrlSource(`${base}/short.gguf`);
    await expect(short.read(100, 50)).rejects.toBeInstanceOf(SourceReadError);
    await expect(short.read(100, 50)).rejects.toMatchObject({ code: 'short-read' });
  });

  it('reads from a Blob and refuses reads past its end', async () => {
    const source = blobSource(new Blob([new Uint8Array(bytes())]), 'q.gguf');
    const header = await parseHeader(source);
    expect(header.tensors.length).toBeGreaterThan(0);
    await expect(source.read(source.size - 4, 8)).rejects.toMatchObject({ code: 'out-of-range' });
  });
});

describe('checkSupported', () => {
  it('names the tensor and type the engine cannot run', async () => {
    // Every type a file can declare is read and computed; Q8_1 is ggml's activation format,
    // which no weight file stores, so only a header built by hand carries it.
    const built = buildFixture(spec('llama-spm-q4_0'));
    const parsed = await parseHeader(
      bytesSource(writeGguf(built.metadata, built.tensors, built.options).bytes),
    );
    const header = {
      ...parsed,
      tensors: parsed.tensors.map((t) =>
        t.name === 'blk.1.ffn_up.weight' ? { ...t, type: GGMLType.Q8_1 } : t,
      ),
    };
    expect(() => checkSupported(parsed)).not.toThrow();
    const error = (() => {
      try {
        checkSupported(header);
      } catch (e) {
        return e as GgufFormatError;
      }
    })();
    expect(error).toBeInstanceOf(GgufFormatError);
    expect(error!.code).toBe('unsupported-type');
    expect(error!.message).toContain('blk.1.ffn_up.weight');
    expect(error!.message).toContain('Q8_1');
  });
});
