// Headers that lie, each refused with a named error as llama.cpp refuses them, and headers too big
// for any model, refused before their entries are read. Work is measured in bytes read from the
// source, never in time.
import { describe, expect, it } from 'vitest';
import { GgufFormatError } from '../../src/engine/gguf/errors.ts';
import { parseHeader } from '../../src/engine/gguf/header.ts';
import { HEADER_LIMITS } from '../../src/engine/gguf/header-scan.ts';
import { bytesSource } from '../../src/engine/gguf/source.ts';
import type { ModelSource } from '../../src/engine/gguf/types.ts';
import { FIXTURES, buildFixture, type FixtureSpec } from '../fixtures/gguf/models.ts';
import {
  f32,
  str,
  u32,
  u64,
  ValueType,
  writeGguf,
  type MetaInput,
  type TensorInput,
} from '../fixtures/gguf/writer.ts';
import { GGMLType } from '../../src/engine/gguf/types.ts';

const SMALL: FixtureSpec = {
  ...FIXTURES.find((f) => f.id === 'llama-spm-f16')!,
  id: 'small',
  embd: 64,
  ff: 128,
  heads: 2,
  headsKv: 1,
  layers: 2,
};
const built = buildFixture(SMALL);
const write = (metadata: Record<string, MetaInput> = built.metadata, tensors = built.tensors) =>
  writeGguf(metadata, tensors).bytes;
const good = writeGguf(built.metadata, built.tensors);

/** A source that counts the bytes read from it. */
function countingSource(bytes: Uint8Array): ModelSource & { bytesRead: number } {
  const inner = bytesSource(bytes);
  const source = {
    name: inner.name,
    size: inner.size,
    bytesRead: 0,
    async read(offset: number, length: number) {
      source.bytesRead += length;
      return inner.read(offset, length);
    },
  };
  return source;
}

async function refusal(bytes: Uint8Array | ModelSource): Promise<GgufFormatError> {
  const source = bytes instanceof Uint8Array ? bytesSource(bytes) : bytes;
  try {
    await parseHeader(source);
  } catch (error) {
    expect(error).toBeInstanceOf(GgufFormatError);
    return error as GgufFormatError;
  }
  throw new Error('parseHeader accepted a lying header');
}

const encoder = new TextEncoder();
function indexAfter(bytes: Uint8Array, text: string): number {
  const needle = encoder.encode(text);
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i + needle.length;
  }
  throw new Error(`"${text}" not in the file`);
}

/** Byte position of a tensor info's `offset` field. */
function offsetField(bytes: Uint8Array, name: string): number {
  const at = indexAfter(bytes, name);
  const dims = new DataView(bytes.buffer).getUint32(at, true);
  return at + 4 + dims * 8 + 4;
}

describe('headers too large for any model are refused before their entries are read', () => {
  it('a metadata count of 5,000,000 (with the bytes behind it) reads only the first chunk', async () => {
    const bytes = new Uint8Array(70_000_000);
    bytes.set(good.bytes);
    new DataView(bytes.buffer).setBigUint64(16, 5_000_000n, true);
    const source = countingSource(bytes);
    const error = await refusal(source);
    expect(error).toMatchObject({ code: 'absurd-count', subject: 'kv_count' });
    expect(error.message).toContain(`${HEADER_LIMITS.metadataEntries}`);
    expect(source.bytesRead).toBeLessThanOrEqual(1 << 20);
  });

  it('a million tensors (with the bytes behind them) are refused at the count', async () => {
    const bytes = new Uint8Array(40_000_000);
    bytes.set(good.bytes);
    new DataView(bytes.buffer).setBigUint64(8, 1_000_000n, true);
    const source = countingSource(bytes);
    const error = await refusal(source);
    expect(error).toMatchObject({ code: 'absurd-count', subject: 'tensor_count' });
    expect(source.bytesRead).toBeLessThanOrEqual(1 << 20);
  });

  it('a 60 MB metadata array is refused as too large, not as "truncated", after reading 32 MiB', async () => {
    // A million 60-byte strings under one key, behind the fixture's own preamble.
    const items = 1_000_000;
    const key = encoder.encode('general.tags');
    const bytes = new Uint8Array(24 + 8 + key.length + 4 + 12 + items * 68);
    const view = new DataView(bytes.buffer);
    bytes.set(encoder.encode('GGUF'));
    view.setUint32(4, 3, true);
    view.setBigUint64(8, 0n, true);
    view.setBigUint64(16, 1n, true);
    let at = 24;
    view.setBigUint64(at, BigInt(key.length), true);
    bytes.set(key, at + 8);
    at += 8 + key.length;
    view.setUint32(at, ValueType.ARRAY, true);
    view.setUint32(at + 4, ValueType.STRING, true);
    view.setBigUint64(at + 8, BigInt(items), true);
    at += 16;
    for (let i = 0; i < items; i++, at += 68) {
      view.setBigUint64(at, 60n, true);
      bytes.fill(0x61, at + 8, at + 68);
    }
    expect(bytes.byteLength).toBeGreaterThan(60e6);
    const source = countingSource(bytes);
    const error = await refusal(source);
    expect(error).toMatchObject({ code: 'absurd-count', subject: 'general.tags' });
    expect(error.message).toContain('32 MiB');
    expect(error.message).not.toContain('truncated');
    expect(source.bytesRead).toBeLessThan(HEADER_LIMITS.valueBytes * 1.6);
  });

  it('a 2.5 MB chat template is read whole, past any read-ahead', async () => {
    const template = `{# ${'x'.repeat(2_500_000)} #}{{ messages[0]['content'] }}`;
    const header = await parseHeader(
      bytesSource(write({ ...built.metadata, 'tokenizer.chat_template': str(template) })),
    );
    expect(header.metadata['tokenizer.chat_template']).toBe(template);
  });
});

describe('lying headers are refused by name', () => {
  it('overlapping tensor offsets: a tensor placed over the one before it', async () => {
    const bytes = good.bytes.slice();
    const view = new DataView(bytes.buffer);
    const q = view.getBigUint64(offsetField(bytes, 'blk.1.attn_q.weight'), true);
    view.setBigUint64(offsetField(bytes, 'blk.1.attn_k.weight'), q, true);
    const error = await refusal(bytes);
    expect(error).toMatchObject({ code: 'misplaced-tensor', subject: 'blk.1.attn_k.weight' });
    expect(error.message).toContain('inside tensor "blk.1.attn_q.weight"');
  });

  it('zero tensor offsets: every tensor at the start of the data section', async () => {
    const bytes = good.bytes.slice();
    const view = new DataView(bytes.buffer);
    for (const t of built.tensors) view.setBigUint64(offsetField(bytes, t.name), 0n, true);
    const error = await refusal(bytes);
    expect(error.code).toBe('misplaced-tensor');
    expect(error.subject).toBe(built.tensors[1].name);
  });

  it('a duplicate key: a second block_count does not silently win', async () => {
    // Written under a stand-in name of the same length, then renamed in the bytes.
    const stand = 'llama.block_xxxxx';
    const bytes = write({ ...built.metadata, [stand]: u32(9) });
    bytes.set(encoder.encode('llama.block_count'), indexAfter(bytes, stand) - stand.length);
    const error = await refusal(bytes);
    expect(error).toMatchObject({ code: 'duplicate-key', subject: 'llama.block_count' });
  });

  it('a "__proto__" key is plain data, and other keys still read', async () => {
    const header = await parseHeader(
      bytesSource(write({ ...built.metadata, ['__proto__']: str('x'), constructor: u32(1) })),
    );
    expect(Object.getPrototypeOf(header.metadata)).toBeNull();
    expect(header.metadata['__proto__']).toBe('x');
    expect(header.metadata['constructor']).toBe(1);
    expect(header.hparams.blockCount).toBe(2);
  });

  it.each([
    ['uint64', u64(32)],
    ['float32', f32(32)],
    ['string', str('32')],
  ])('general.alignment stored as %s', async (_type, value) => {
    const error = await refusal(write({ ...built.metadata, 'general.alignment': value }));
    expect(error).toMatchObject({ code: 'bad-metadata', subject: 'general.alignment' });
    expect(error.message).toContain('uint32');
  });

  it.each([
    ['llama.rope.freq_base', 0],
    ['llama.rope.freq_base', -10000],
    ['llama.attention.layer_norm_rms_epsilon', -1e-5],
  ])('%s = %d', async (key, value) => {
    const error = await refusal(write({ ...built.metadata, [key]: f32(value) }));
    expect(error).toMatchObject({ code: 'bad-metadata', subject: key });
  });

  it('tensors the architecture does not have, named', async () => {
    const stray: TensorInput = {
      name: 'blk.0.mystery.weight',
      type: GGMLType.F32,
      dims: [8],
      data: new Uint8Array(32),
    };
    const error = await refusal(write(built.metadata, [...built.tensors, stray]));
    expect(error).toMatchObject({ code: 'unexpected-tensor', subject: 'blk.0.mystery.weight' });
  });

  it('the unbroken file still parses', async () => {
    const header = await parseHeader(bytesSource(good.bytes));
    expect(header.tensors).toEqual(good.tensors);
  });
});
