// The engine's embedding mode against llama.cpp's embedding context on tiny generated embedding
// GGUFs: the same token ids, and vectors with cosine similarity >= 0.9999 with f32 compute
// (SwiftShader) and >= 0.999 with f16 compute (lavapipe), for English, Chinese, emoji and code.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Embedder } from '../../../src/engine/gguf/embedding';
import { openFileSource } from '../../../src/engine/gguf/source-node';
import type { EngineDevice } from '../../../src/gpu/device';
import { ensureEmbeddingFixture } from '../../fixtures/gguf/variants';
import {
  embed as llamaEmbed,
  tokenize as llamaTokenize,
} from '../../fixtures/llama-embedding-oracle';
import { openTestDevice, poison } from '../harness';
import { cosine, PRECISIONS, TEXTS } from './embedding-cases';

const run = promisify(execFile);

const CASES = [
  { fixture: 'qwen3-embed-last-f32', pooling: 'last' },
  { fixture: 'qwen3-embed-mean-f32', pooling: 'mean' },
  { fixture: 'qwen3-embed-cls-f32', pooling: 'cls' },
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
        embedder = await Embedder.load(device, source, {
          precision,
          contextTokens: 128,
          prefillChunk: 8,
        });
        await source.close();
      });
      afterAll(() => {
        embedder.unload();
        device.device.destroy();
      });

      it(`pools by ${pooling} and matches llama.cpp's vectors`, async () => {
        expect(embedder.pooling).toBe(pooling);
        poison(device.device, embedder.model.scratch.get('hidden')!);
        const texts = Object.values(TEXTS);
        const vectors = await embedder.embed(texts);
        for (const [i, text] of texts.entries()) {
          expect(vectors[i]).toHaveLength(128);
          expect(Math.hypot(...vectors[i])).toBeCloseTo(1, 5);
          expect(cosine(vectors[i], reference.get(text)!), text).toBeGreaterThanOrEqual(floor);
        }
      });
    },
  );

  it("tokenizes as llama.cpp's tokenizer does", async () => {
    const device = await openTestDevice('swiftshader');
    const source = await openFileSource(path);
    const embedder = await Embedder.load(device, source, { contextTokens: 64 });
    await source.close();
    for (const text of Object.values(TEXTS)) {
      expect(embedder.tokenizer.encode(text, { addBos: false, parseSpecial: false })).toEqual(
        await llamaTokenize(path, text),
      );
    }
    embedder.unload();
    device.device.destroy();
  });
});

describe('embed CLI', () => {
  it('prints {"vectors","pooling","dims"} with one normalised vector per --text', async () => {
    const path = ensureEmbeddingFixture('qwen3-embed-last-f32');
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
        TEXTS.code,
        '--adapter',
        'swiftshader',
        '--json',
      ],
      { maxBuffer: 1 << 24 },
    );
    const out = JSON.parse(stdout) as { vectors: number[][]; pooling: string; dims: number };
    expect(Object.keys(out)).toEqual(['vectors', 'pooling', 'dims']);
    expect(out.pooling).toBe('last');
    expect(out.dims).toBe(128);
    expect(out.vectors).toHaveLength(2);
    const english = Float32Array.from(out.vectors[0]);
    expect(cosine(english, await llamaEmbed(path, TEXTS.english))).toBeGreaterThanOrEqual(0.9999);
  });

  it('refuses a model that is not an embedding model, naming the missing key', async () => {
    const { ensureFixture } = await import('../../fixtures/gguf/ensure');
    const chat = ensureFixture('qwen3-q6_k');
    const failure = await run('node', [
      '--import',
      './src/cli/register.mjs',
      'src/cli/embed.ts',
      '--model',
      chat,
      '--text',
      'hi',
      '--adapter',
      'swiftshader',
      '--json',
    ]).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(/qwen3\.pooling_type.*embedding GGUF/);
  });
});
