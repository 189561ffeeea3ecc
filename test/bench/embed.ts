// `npm run bench:embed -- [--model PATH] [--adapter swiftshader|lavapipe] [--texts N]`: embeds N
// corpus lines with an encoder (default the generated `bert-embed-mean-f32` fixture) twice, packed
// many to a pass as the documents worker does, and one text per call, and prints texts per second
// with the device named, for docs/performance.md. Asserts nothing.
import { Embedder } from '../../src/engine/gguf/embedding';
import { EncoderModel } from '../../src/engine/gguf/encoder-model';
import { openFileSource } from '../../src/engine/gguf/source-node';
import type { NodeAdapterName } from '../../src/gpu/node-gpu';
import { CORPUS } from '../fixtures/gguf/corpus';
import { ensureEmbeddingFixture } from '../fixtures/gguf/variants';
import { useSoftwareIcds } from '../../src/cli/engine-cli';
import { openTestDevice } from '../gpu/harness';

function flag(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && process.argv[at + 1] !== undefined ? process.argv[at + 1] : fallback;
}

async function main(): Promise<void> {
  useSoftwareIcds();
  const path = flag('model', '') || ensureEmbeddingFixture('bert-embed-mean-f32');
  const adapter = flag('adapter', 'swiftshader') as NodeAdapterName;
  const count = Number(flag('texts', '64'));
  const lines = CORPUS.split('\n').filter((l) => l.trim().length > 0);
  const texts = Array.from({ length: count }, (_, i) => lines[i % lines.length]);
  const device = await openTestDevice(adapter);
  const source = await openFileSource(path);
  const embedder = await Embedder.load(device, source, { precision: 'f32' });
  await source.close();
  const encoder = embedder.model as EncoderModel;
  const passes = { count: 0 };
  const run = encoder.run.bind(encoder);
  encoder.run = (sequences) => {
    passes.count++;
    return run(sequences);
  };
  const tokens = texts.reduce((a, t) => a + embedder.tokens(t).length, 0);
  await embedder.embed(texts.slice(0, 2));
  console.log(
    `${device.adapterInfo.description || device.adapterInfo.architecture}: ${embedder.header.hparams.name}, ` +
      `${count} texts, ${tokens} tokens, context ${embedder.contextTokens}`,
  );
  for (const mode of ['packed', 'one per call'] as const) {
    passes.count = 0;
    const start = performance.now();
    if (mode === 'packed') await embedder.embed(texts);
    else for (const text of texts) await embedder.embed([text]);
    const seconds = (performance.now() - start) / 1000;
    console.log(
      `${mode}: ${passes.count} passes, ${(count / seconds).toFixed(1)} texts/s, ` +
        `${(tokens / seconds).toFixed(0)} tokens/s`,
    );
  }
  embedder.unload();
  device.device.destroy();
}

await main();
