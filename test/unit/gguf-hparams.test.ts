import { describe, expect, it } from 'vitest';
import { GgufFormatError } from '../../src/engine/gguf/errors.ts';
import { deriveHparams, isSlidingLayer } from '../../src/engine/gguf/hparams.ts';
import { GGMLType, type TensorInfo } from '../../src/engine/gguf/types.ts';

const tensor = (name: string, dims: number[]): TensorInfo => ({
  name,
  type: GGMLType.F32,
  dims,
  offset: 0,
  bytes: 0,
});

function base(arch: string): Record<string, unknown> {
  return {
    'general.architecture': arch,
    [`${arch}.embedding_length`]: 512,
    [`${arch}.feed_forward_length`]: 1024,
    [`${arch}.block_count`]: 2,
    [`${arch}.attention.head_count`]: 8,
  };
}

describe('deriveHparams', () => {
  it("fills llama.cpp's defaults: kv heads = heads, head width = embd / heads, theta 10000, eps 1e-5", () => {
    const h = deriveHparams(base('llama'), [tensor('token_embd.weight', [512, 300])]);
    expect(h).toMatchObject({
      headCountKv: 8,
      keyLength: 64,
      valueLength: 64,
      ropeDims: 64,
      ropeTheta: 10000,
      rmsEpsilon: 1e-5,
      contextLength: 2048,
      vocabSize: 300,
      ropePairing: 'adjacent',
      tiedEmbeddings: true,
      ropeScaling: { type: 'none', factor: 1 },
    });
  });

  it('qwen2 and qwen3 pair rope dimensions NeoX-style; Qwen3 may set a wider head', () => {
    expect(deriveHparams(base('qwen2'), []).ropePairing).toBe('neox');
    const h = deriveHparams(
      { ...base('qwen3'), 'qwen3.attention.key_length': 128, 'qwen3.attention.head_count_kv': 2 },
      [tensor('output.weight', [512, 300])],
    );
    expect(h).toMatchObject({
      ropePairing: 'neox',
      keyLength: 128,
      valueLength: 128,
      ropeDims: 128,
      headCountKv: 2,
      tiedEmbeddings: false,
    });
  });

  it("Gemma 2: llama.cpp's defaults of a 4096 window on every other layer and caps of 50 and 30", () => {
    const h = deriveHparams({ ...base('gemma2'), 'gemma2.block_count': 4 }, []);
    expect(h).toMatchObject({
      ropePairing: 'neox',
      rmsEpsilon: 1e-6,
      slidingWindow: 4096,
      slidingPeriod: 2,
      ropeThetaLocal: 10000,
      attentionSoftCap: 50,
      finalSoftCap: 30,
    });
    expect([0, 1, 2, 3].map((i) => isSlidingLayer(h, i))).toEqual([true, false, true, false]);
  });

  it('Gemma 3: a window only when the file sets one, 5 of 6 layers, local RoPE base 10000', () => {
    const none = deriveHparams(base('gemma3'), []);
    expect(none).toMatchObject({ slidingWindow: 0, attentionSoftCap: 0, finalSoftCap: 0 });
    expect(isSlidingLayer(none, 0)).toBe(false);
    const h = deriveHparams(
      {
        ...base('gemma3'),
        'gemma3.block_count': 12,
        'gemma3.attention.sliding_window': 512,
        'gemma3.rope.freq_base': 1e6,
      },
      [],
    );
    expect(h).toMatchObject({ slidingWindow: 512, ropeTheta: 1e6, ropeThetaLocal: 10000 });
    const windowed = Array.from({ length: 12 }, (_, i) => isSlidingLayer(h, i));
    expect(windowed.map((w, i) => (w ? -1 : i)).filter((i) => i >= 0)).toEqual([5, 11]);
  });

  it('rope scaling: llama3 from rope_freqs or the type key, linear from the factor', () => {
    const llama3 = deriveHparams(
      {
        ...base('llama'),
        'llama.rope.scaling.factor': 8,
        'llama.rope.scaling.original_context_length': 8192,
      },
      [tensor('rope_freqs.weight', [32])],
    );
    expect(llama3.ropeScaling).toEqual({
      type: 'llama3',
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalContextLength: 8192,
    });
    expect(
      deriveHparams(
        { ...base('llama'), 'llama.rope.scaling.type': 'linear', 'llama.rope.scaling.factor': 4 },
        [],
      ).ropeScaling,
    ).toEqual({
      type: 'linear',
      factor: 4,
      originalContextLength: undefined,
    });
    expect(() =>
      deriveHparams({ ...base('llama'), 'llama.rope.scaling.type': 'yarn' }, []),
    ).toThrow(/yarn/);
  });

  it('refuses impossible head layouts and missing keys, naming the key', () => {
    const bad = (metadata: Record<string, unknown>) => {
      try {
        deriveHparams(metadata, []);
      } catch (e) {
        return e as GgufFormatError;
      }
      throw new Error('accepted');
    };
    expect(bad({ ...base('llama'), 'llama.attention.head_count_kv': 3 }).subject).toBe(
      'llama.attention.head_count_kv',
    );
    const missing = base('llama');
    delete missing['llama.block_count'];
    expect(bad(missing)).toMatchObject({ code: 'bad-metadata', subject: 'llama.block_count' });
    expect(bad({ ...base('llama'), 'llama.embedding_length': -5 }).code).toBe('bad-metadata');
    expect(bad({ ...base('llama'), 'llama.rope.dimension_count': 65 }).subject).toBe(
      'llama.rope.dimension_count',
    );
    expect(bad({ ...base('gemma'), 'general.architecture': 'gemma' })).toMatchObject({
      code: 'unknown-architecture',
    });
  });
});
