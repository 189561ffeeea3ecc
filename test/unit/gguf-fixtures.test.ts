import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseHeader, readTensor } from '../../src/engine/gguf/header.ts';
import { f16BitsToF32 } from '../../src/engine/gguf/half.ts';
import { quantizeQ8_0 } from '../../src/engine/gguf/quantize.ts';
import { openFileSource } from '../../src/engine/gguf/source-node.ts';
import { GGMLType } from '../../src/engine/gguf/types.ts';
import { ensureFixtures, fixturePath } from '../fixtures/gguf/ensure.ts';
import { FIXTURES, fixtureBytes } from '../fixtures/gguf/models.ts';

async function tensorBytes(path: string, name: string) {
  const source = await openFileSource(path);
  try {
    const header = await parseHeader(source);
    const info = header.tensors.find((t) => t.name === name)!;
    const chunks: Uint8Array[] = [];
    for await (const chunk of readTensor(source, info)) chunks.push(chunk);
    return { info, bytes: new Uint8Array(Buffer.concat(chunks)) };
  } finally {
    await source.close();
  }
}

describe('fixture generator', () => {
  it('is deterministic and writes each file once per generator version', () => {
    const paths = ensureFixtures();
    const spec = FIXTURES.find((f) => f.id === 'qwen3-q6_k')!;
    expect(fixtureBytes(spec)).toEqual(fixtureBytes(spec));
    const before = statSync(paths['qwen3-q6_k']).mtimeMs;
    expect(ensureFixtures()).toEqual(paths);
    expect(statSync(paths['qwen3-q6_k']).mtimeMs).toBe(before);
    expect(paths['qwen3-q6_k']).toBe(fixturePath('qwen3-q6_k'));
  });

  it('writes the real files’ weight mixes', async () => {
    const paths = ensureFixtures();
    const types = async (id: string) => {
      const source = await openFileSource(paths[id]);
      try {
        return new Map((await parseHeader(source)).tensors.map((t) => [t.name, t.type]));
      } finally {
        await source.close();
      }
    };
    const q4km = await types('llama3-q4_k_m');
    expect(q4km.get('output.weight')).toBe(GGMLType.Q6_K);
    expect(q4km.get('blk.0.attn_v.weight')).toBe(GGMLType.Q6_K);
    expect(q4km.get('blk.1.attn_v.weight')).toBe(GGMLType.Q4_K);
    expect(q4km.get('blk.1.ffn_gate.weight')).toBe(GGMLType.Q4_K);
    expect(q4km.get('blk.0.attn_norm.weight')).toBe(GGMLType.F32);
    const q5km = await types('qwen3-q5_k_m');
    expect(q5km.get('blk.2.ffn_down.weight')).toBe(GGMLType.Q6_K);
    expect(q5km.get('blk.1.ffn_up.weight')).toBe(GGMLType.Q5_K);
    const covered = new Set<GGMLType>();
    for (const f of FIXTURES) for (const type of (await types(f.id)).values()) covered.add(type);
    for (const type of [
      GGMLType.F32,
      GGMLType.F16,
      GGMLType.BF16,
      GGMLType.Q8_0,
      GGMLType.Q4_0,
      GGMLType.Q5_0,
      GGMLType.Q4_K,
      GGMLType.Q5_K,
      GGMLType.Q6_K,
    ]) {
      expect(covered.has(type)).toBe(true);
    }
  });

  it('the F16/Q8_0 pair holds the same weights: Q8_0 is the F16 values quantized', async () => {
    const paths = ensureFixtures();
    for (const name of [
      'blk.0.attn_q.weight',
      'blk.1.ffn_down.weight',
      'output.weight',
      'token_embd.weight',
    ]) {
      const f16 = await tensorBytes(paths['pair-f16'], name);
      const q8 = await tensorBytes(paths['pair-q8_0'], name);
      expect(f16.info.type).toBe(GGMLType.F16);
      expect(q8.info.type).toBe(GGMLType.Q8_0);
      const bits = new Uint16Array(
        f16.bytes.buffer,
        f16.bytes.byteOffset,
        f16.bytes.byteLength / 2,
      );
      expect(quantizeQ8_0(Float32Array.from(bits, f16BitsToF32))).toEqual(q8.bytes);
    }
  });
});
