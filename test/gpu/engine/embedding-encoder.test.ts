// The BERT family's embeddings (`bert` with mean and CLS pooling, `nomic-bert`) against llama.cpp's
// embedding context on tiny generated GGUFs: [CLS] ... [SEP] around llama.cpp's own ids, vectors
// with cosine similarity >= 0.9999 with f32 compute (SwiftShader) and >= 0.999 with f16 compute
// (lavapipe) for English, Chinese, emoji and code, several texts packed into one pass with each
// kept apart, the planner's byte prediction equal to what the encoder allocates, and the embed
// CLI's JSON for a bert model.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Embedder } from '../../../src/engine/gguf/embedding';
import { EncoderModel } from '../../../src/engine/gguf/encoder-model';
import { openFileSource } from '../../../src/engine/gguf/source-node';
import type { EngineDevice } from '../../../src/gpu/device';
import { ensureEmbeddingFixture } from '../../fixtures/gguf/variants';
import {
  embed as llamaEmbed,
  tokenize as llamaTokenize,
} from '../../fixtures/llama-embedding-oracle';
import { NO_MARGIN, planModel } from '../../../src/plan';
import { openTestDevice, poison } from '../harness';
import { cosine, PRECISIONS, TEXTS } from './embedding-cases';
import { describeTestDevice } from '../residency-helpers';

const run = promisify(execFile);

const CASES = [
  { fixture: 'bert-embed-mean-f32', pooling: 'mean' },
  { fixture: 'bert-embed-cls-f32', pooling: 'cls' },
  { fixture: 'nomic-bert-embed-f32', pooling: 'mean' },
] as const;

describe.each(CASES)('embeddings of $fixture', ({ fixture, pooling }) => {
  let path: string;
  const reference = new Map<string, Float32Array>();
  beforeAll(async () => {
    path = ensureEmbeddingFixture(fixture);
    for (const text of Object.values(TEXTS)) reference.set(text, await llamaEmbed(path, text));
  });

  describe.each(PRECISIONS)(
    'with $precision compute on $adapter',
    ({ adapter, precision, floor }) => {
      let device: EngineDevice;
      let embedder: Embedder;
      beforeAll(async () => {
        device = await openTestDevice(adapter);
        const source = await openFileSource(path);
        embedder = await Embedder.load(device, source, { precision, contextTokens: 128 });
        await source.close();
      });
      afterAll(() => {
        embedder.unload();
        device.device.destroy();
      });

      it(`pools by ${pooling}, packs the texts into one pass and matches llama.cpp`, async () => {
        expect(embedder.pooling).toBe(pooling);
        const encoder = embedder.model as EncoderModel;
        expect(encoder).toBeInstanceOf(EncoderModel);
        poison(device.device, encoder.scratch.get('hidden')!);
        const passes = vi.spyOn(encoder, 'run');
        const texts = Object.values(TEXTS);
        const vectors = await embedder.embed(texts);
        expect(passes).toHaveBeenCalledTimes(1);
        expect(passes.mock.calls[0][0]).toHaveLength(texts.length);
        for (const [i, text] of texts.entries()) {
          expect(vectors[i]).toHaveLength(128);
          expect(Math.hypot(...vectors[i])).toBeCloseTo(1, 5);
          expect(cosine(vectors[i], reference.get(text)!), text).toBeGreaterThanOrEqual(floor);
        }
        passes.mockRestore();
      });
    },
  );

  it('wraps llama.cpp ids in [CLS] and [SEP], and gives the same vectors a pass at a time', async () => {
    const device = await openTestDevice('swiftshader');
    const source = await openFileSource(path);
    const texts = Object.values(TEXTS);
    const ids = await Promise.all(texts.map((t) => llamaTokenize(path, t)));
    const longest = Math.max(...ids.map((x) => x.length)) + 2;
    // Room for the longest text alone: every pass carries one or two texts.
    const embedder = await Embedder.load(device, source, { contextTokens: longest + 8 });
    await source.close();
    for (const [i, text] of texts.entries()) {
      expect(embedder.tokens(text)).toEqual([101, ...ids[i], 102]);
    }
    const passes = vi.spyOn(embedder.model as EncoderModel, 'run');
    const vectors = await embedder.embed(texts);
    expect(passes.mock.calls.length).toBeGreaterThan(1);
    expect(passes.mock.calls.length).toBeLessThan(texts.length + 1);
    for (const [i, text] of texts.entries()) {
      expect(cosine(vectors[i], reference.get(text)!), text).toBeGreaterThanOrEqual(0.9999);
    }
    await expect(embedder.embed(['  '])).rejects.toThrow(/empty text/);
    // Planned like any other model: the planner's GPU bytes are what the encoder allocated.
    const plan = planModel(embedder.header, [describeTestDevice(device.device, 'swiftshader')], {
      contextTokens: longest + 8,
      margin: NO_MARGIN,
      compute: 'f32',
    });
    expect(plan.fits).toBe('full');
    const allocated = (embedder.model as EncoderModel).allocator.allocated;
    expect(allocated).toMatchObject({ weights: plan.bytes.gpu.weights, kv: 0 });
    expect(allocated.scratch).toBe(plan.bytes.gpu.scratch);
    embedder.unload();
    device.device.destroy();
  });
});

describe('embed CLI with a bert model', () => {
  it('prints {"vectors","pooling","dims"} with CLS pooling', async () => {
    const path = ensureEmbeddingFixture('bert-embed-cls-f32');
    const { stdout } = await run(
      'node',
      [
        '--import',
        './src/cli/register.mjs',
        'src/cli/embed.ts',
        '--model',
        path,
        '--text',
        TEXTS.english,
        '--text',
        TEXTS.chinese,
        '--adapter',
        'swiftshader',
        '--json',
      ],
      { maxBuffer: 1 << 24 },
    );
    const out = JSON.parse(stdout) as { vectors: number[][]; pooling: string; dims: number };
    expect(Object.keys(out)).toEqual(['vectors', 'pooling', 'dims']);
    expect(out.pooling).toBe('cls');
    expect(out.dims).toBe(128);
    expect(out.vectors).toHaveLength(2);
    for (const [i, text] of [TEXTS.english, TEXTS.chinese].entries()) {
      const vector = Float32Array.from(out.vectors[i]);
      expect(cosine(vector, await llamaEmbed(path, text))).toBeGreaterThanOrEqual(0.9999);
    }
  });
});
