import { describe, expect, it } from 'vitest';
import { GgufFormatError } from '../../src/engine/gguf/errors.ts';
import { checkSupported, parseHeader } from '../../src/engine/gguf/header.ts';
import { bytesSource } from '../../src/engine/gguf/source.ts';
import { GGMLType, storedBytes, type ModelSource } from '../../src/engine/gguf/types.ts';
import { seededRandom } from '../fixtures/gguf/blocks.ts';
import { FIXTURES, buildFixture, type FixtureSpec } from '../fixtures/gguf/models.ts';
import { str, writeGguf, type TensorInput } from '../fixtures/gguf/writer.ts';

// A small llama with a real vocabulary: the header is most of the file, which is what breaks.
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
const good = writeGguf(built.metadata, built.tensors);

/** A source over `bytes` that counts what the reader asked for: work is bounded by what it reads. */
function countingSource(bytes: Uint8Array): { source: ModelSource; bytesRead: () => number } {
  const inner = bytesSource(bytes);
  let bytesRead = 0;
  return {
    source: {
      ...inner,
      read(offset, length) {
        bytesRead += length;
        return inner.read(offset, length);
      },
    },
    bytesRead: () => bytesRead,
  };
}

async function failure(
  bytes: Uint8Array,
  options?: { allowMissingData?: boolean },
): Promise<{ error: unknown; bytesRead: number }> {
  const counted = countingSource(bytes);
  try {
    await parseHeader(counted.source, options);
  } catch (error) {
    return { error, bytesRead: counted.bytesRead() };
  }
  throw new Error('parseHeader accepted a broken file');
}

async function expectCode(
  bytes: Uint8Array,
  code: string,
  subject?: string,
): Promise<GgufFormatError> {
  const { error, bytesRead } = await failure(bytes);
  expect(error).toBeInstanceOf(GgufFormatError);
  expect((error as GgufFormatError).code).toBe(code);
  if (subject) expect((error as GgufFormatError).message).toContain(subject);
  // Prompt and bounded: a refusal reads the file at most once over, never looping on a lying count.
  expect(bytesRead).toBeLessThanOrEqual(bytes.length);
  return error as GgufFormatError;
}

const encoder = new TextEncoder();
/** Index just past the first occurrence of `text` in the header. */
function after(bytes: Uint8Array, text: string): number {
  const needle = encoder.encode(text);
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i + needle.length;
  }
  throw new Error(`"${text}" not in the file`);
}

function patched(edit: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = good.bytes.slice();
  edit(new DataView(bytes.buffer), bytes);
  return bytes;
}

/** Offset of the `offset` field in a tensor's info. */
function tensorOffsetField(bytes: Uint8Array, name: string): number {
  const at = after(bytes, name);
  const dims = new DataView(bytes.buffer).getUint32(at, true);
  return at + 4 + dims * 8 + 4;
}

function rewrite(
  tensors: (t: TensorInput) => TensorInput | null,
  metadata = built.metadata,
): Uint8Array {
  const kept = built.tensors.map(tensors).filter((t): t is TensorInput => t !== null);
  return writeGguf(metadata, kept).bytes;
}

describe('broken files raise typed errors after bounded reads', () => {
  it('parses the unbroken file', async () => {
    const header = await parseHeader(bytesSource(good.bytes));
    expect(header.tensors).toEqual(good.tensors);
  });

  it.each([
    ['inside the preamble', 10],
    ['inside the metadata', 2000],
    ['inside the tensor infos', () => after(good.bytes, 'blk.1.ffn_up.weight')],
    ['at the start of the data', () => good.dataOffset],
    ['inside the last tensor', () => good.bytes.length - 100],
  ])('truncated %s', async (_where, cut) => {
    const end = typeof cut === 'function' ? cut() : cut;
    await expectCode(good.bytes.slice(0, end), 'truncated');
  });

  it('wrong magic', async () => {
    await expectCode(
      patched((_, b) => b.set(encoder.encode('GGML'), 0)),
      'bad-magic',
    );
    await expectCode(
      encoder.encode('<!DOCTYPE html><html><body>Not found</body></html>'),
      'bad-magic',
    );
  });

  it.each([1, 4, 0x03000000])('version %d', async (version) => {
    await expectCode(
      patched((v) => v.setUint32(4, version, true)),
      'bad-version',
    );
  });

  it('a tensor count of 2^60', async () => {
    await expectCode(
      patched((v) => v.setBigUint64(8, 2n ** 60n, true)),
      'absurd-count',
    );
  });

  it('a metadata count of 2^60', async () => {
    await expectCode(
      patched((v) => v.setBigUint64(16, 2n ** 60n, true)),
      'absurd-count',
    );
  });

  it('a key length of 2^40', async () => {
    await expectCode(
      patched((v) => v.setBigUint64(24, 2n ** 40n, true)),
      'absurd-count',
    );
  });

  it('a string value of 2^40 bytes (damaged), and one just past the end of the file (cut short)', async () => {
    const lengthField = (b: Uint8Array) => after(b, 'general.architecture') + 4;
    await expectCode(
      patched((v, b) => v.setBigUint64(lengthField(b), 2n ** 40n, true)),
      'absurd-count',
    );
    await expectCode(
      patched((v, b) => v.setBigUint64(lengthField(b), BigInt(b.length), true)),
      'truncated',
    );
  });

  it('a vocabulary array of 2^40 entries', async () => {
    await expectCode(
      patched((v, b) => v.setBigUint64(after(b, 'tokenizer.ggml.tokens') + 8, 2n ** 40n, true)),
      'absurd-count',
    );
  });

  it('a tensor with 2^31 dimensions, and one with a dimension of 2^40', async () => {
    await expectCode(
      patched((v, b) => v.setUint32(after(b, 'blk.0.attn_q.weight'), 2 ** 31, true)),
      'absurd-count',
    );
    await expectCode(
      patched((v, b) => v.setBigUint64(after(b, 'blk.0.attn_q.weight') + 4, 2n ** 40n, true)),
      'absurd-count',
    );
  });

  it('tensor offsets of 2^60, misaligned, and past the data section', async () => {
    const name = 'blk.1.attn_k.weight';
    await expectCode(
      patched((v, b) => v.setBigUint64(tensorOffsetField(b, name), 2n ** 60n, true)),
      'offset-out-of-range',
      name,
    );
    await expectCode(
      patched((v, b) =>
        v.setBigUint64(
          tensorOffsetField(b, name),
          v.getBigUint64(tensorOffsetField(b, name), true) + 2n,
          true,
        ),
      ),
      'offset-out-of-range',
      name,
    );
    const dataBytes = BigInt(good.bytes.length - good.dataOffset);
    await expectCode(
      patched((v, b) => v.setBigUint64(tensorOffsetField(b, name), dataBytes, true)),
      'offset-out-of-range',
      name,
    );
  });

  it('an unknown architecture', async () => {
    const metadata = { ...built.metadata, 'general.architecture': str('mamba') };
    const error = await expectCode(
      rewrite((t) => t, metadata),
      'unknown-architecture',
      'mamba',
    );
    expect(error.subject).toBe('general.architecture');
  });

  it('a missing tensor, named', async () => {
    const error = await expectCode(
      rewrite((t) => (t.name === 'blk.1.ffn_up.weight' ? null : t)),
      'missing-tensor',
      'blk.1.ffn_up.weight',
    );
    expect(error.subject).toBe('blk.1.ffn_up.weight');
  });

  it('a tensor whose shape disagrees with the metadata, named', async () => {
    const bytes = rewrite((t) =>
      t.name === 'blk.0.attn_k.weight' ? { ...t, dims: [t.dims[1], t.dims[0]] } : t,
    );
    await expectCode(bytes, 'shape-mismatch', 'blk.0.attn_k.weight');
  });

  it('a quantized row that does not fill whole blocks', async () => {
    const bytes = patched((v, b) => {
      const at = after(b, 'blk.0.ffn_down.weight') + 4;
      v.setBigUint64(at, 100n, true);
      v.setUint32(at + 16, GGMLType.Q8_0, true);
    });
    await expectCode(bytes, 'shape-mismatch', 'blk.0.ffn_down.weight');
  });

  it('an unknown tensor type in the header is refused by name; Q4_1, which the engine runs, is not', async () => {
    const name = 'blk.0.ffn_gate.weight';
    await expectCode(
      patched((v, b) => v.setUint32(tensorOffsetField(b, name) - 4, 99, true)),
      'unsupported-type',
      name,
    );
    const q41 = rewrite((t) =>
      t.name === name
        ? {
            ...t,
            type: GGMLType.Q4_1,
            data: new Uint8Array(storedBytes(GGMLType.Q4_1, t.dims[0] * t.dims[1])),
          }
        : t,
    );
    const header = await parseHeader(bytesSource(q41));
    expect(header.tensors.find((t) => t.name === name)!.type).toBe(GGMLType.Q4_1);
    expect(() => checkSupported(header)).not.toThrow();
  });
});

describe('mutation fuzz over fixture headers', () => {
  const headerEnd = good.dataOffset;
  // Most header bytes are vocabulary text; half the mutations aim at the structure instead: the
  // preamble, the model's own metadata (before the vocabulary) and the tensor infos.
  const metadataEnd = after(good.bytes, 'tokenizer.ggml.model');
  const tensorInfoStart = after(good.bytes, 'token_embd.weight') - 'token_embd.weight'.length - 8;
  const mutants = 400;

  function mutate(rand: () => number): Uint8Array {
    const bytes = good.bytes.slice();
    const view = new DataView(bytes.buffer);
    const at = () => {
      const region = rand();
      if (region < 0.5) return Math.floor(rand() * headerEnd);
      if (region < 0.75) return Math.floor(rand() * metadataEnd);
      return tensorInfoStart + Math.floor(rand() * (headerEnd - tensorInfoStart));
    };
    switch (Math.floor(rand() * 4)) {
      case 0:
        for (let i = 0, n = 1 + Math.floor(rand() * 4); i < n; i++)
          bytes[at()] ^= 1 << Math.floor(rand() * 8);
        return bytes;
      case 1: {
        const extremes = [
          0n,
          1n,
          2n ** 32n - 1n,
          2n ** 63n,
          2n ** 64n - 1n,
          BigInt(bytes.length),
          BigInt(Math.floor(rand() * 2 ** 32)),
        ];
        view.setBigUint64(
          Math.min(at(), headerEnd - 8),
          extremes[Math.floor(rand() * extremes.length)],
          true,
        );
        return bytes;
      }
      case 2:
        return bytes.slice(0, Math.floor(rand() * bytes.length));
      default:
        for (let i = 0, n = 1 + Math.floor(rand() * 8); i < n; i++)
          bytes[at()] = Math.floor(rand() * 256);
        return bytes;
    }
  }

  it(`${mutants} seeded mutants: each parses to a consistent header or throws GgufFormatError, reading no more than the file`, async () => {
    const rand = seededRandom(2026);
    let accepted = 0;
    const codes = new Map<string, number>();
    for (let i = 0; i < mutants; i++) {
      const bytes = mutate(rand);
      const counted = countingSource(bytes);
      try {
        const header = await parseHeader(counted.source);
        accepted++;
        for (const t of header.tensors) {
          expect(t.offset + t.bytes).toBeLessThanOrEqual(bytes.length);
          expect(t.bytes).toBe(
            storedBytes(
              t.type,
              t.dims.reduce((a, b) => a * b, 1),
            ),
          );
        }
        expect(new Set(header.tensors.map((t) => t.name)).size).toBe(header.tensors.length);
        expect(header.hparams.blockCount).toBeGreaterThan(0);
      } catch (error) {
        if (!(error instanceof GgufFormatError))
          throw new Error(`mutant ${i} threw ${String(error)}`, { cause: error });
        codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
      }
      expect(counted.bytesRead()).toBeLessThanOrEqual(bytes.length);
    }
    // The mutants exercise both outcomes and several distinct checks.
    expect(accepted).toBeGreaterThan(0);
    expect(codes.size).toBeGreaterThanOrEqual(6);
  }, 120_000);
});
