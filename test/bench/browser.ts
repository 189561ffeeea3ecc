// `npm run bench:browser [-- --model PATH.gguf] [--tokens N] [--engines gpu,cpu]
// [--threads N]`: both engines, our WebGPU engine
// and llama.cpp in WebAssembly, on the same GGUF in the same headless Chromium (SwiftShader for
// WebGPU; the page cross-origin isolated so llama.cpp has a thread per core). Prints each
// engine's prefill and decode tok/s as the engine measured them, beside the planner's prediction
// and its choice. A benchmark, not a test: nothing is asserted.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CPU_EFFICIENCY } from '../../src/plan/cpu.ts';
import { launchBrowser } from '../e2e/browser.ts';
import { serveIsolatedPage } from './isolated-page.ts';
import { buildFixture, type FixtureSpec } from '../fixtures/gguf/models.ts';
import { encodeValues, normals, seededRandom } from '../fixtures/gguf/blocks.ts';
import { writeGguf } from '../fixtures/gguf/writer.ts';
import { parseHeader } from '../../src/engine/gguf/header.ts';
import { blobSource } from '../../src/engine/gguf/source.ts';
import { textCodec } from '../../src/engine/gguf/text-codec.ts';
import { startFixtureServer } from '../fixtures/server.ts';
import type { BenchApi, BenchRun } from './browser-page/main.ts';
import { SMOLLM2_135M_SHAPE } from './smollm2-shape.ts';

const root = resolve(import.meta.dirname, '../..');

/**
 * SmolLM2-135M's shape (30 layers, 576 wide, 9 heads, 3 KV heads) at Q8_0, random weights, with
 * an output layer of its own whose rows for tokens that are not whole UTF-8 text are zero, so a
 * greedy reply never picks a lone byte (which llama.cpp's WebAssembly build cannot return).
 */
const SMOLLM2_135M_TEXT: FixtureSpec = {
  ...SMOLLM2_135M_SHAPE,
  id: 'smollm2-135m-shape-q8_0-text',
};

async function textOnlyModel(): Promise<Uint8Array> {
  const built = buildFixture(SMOLLM2_135M_TEXT);
  const probe = writeGguf(built.metadata, built.tensors, built.options).bytes;
  const codec = textCodec(
    await parseHeader(blobSource(new Blob([probe as Uint8Array<ArrayBuffer>]), 'probe.gguf')),
  );
  const output = built.tensors.find((t) => t.name === 'output.weight')!;
  const [width, vocab] = output.dims;
  const values = normals(seededRandom(7), width * vocab, 0, 5 / Math.sqrt(width));
  for (let id = 0; id < vocab; id++) {
    if (codec.decode([id]).includes('\ufffd')) values.fill(0, id * width, (id + 1) * width);
  }
  output.data = encodeValues(output.type, values);
  return writeGguf(built.metadata, built.tensors, built.options).bytes;
}

async function defaultModel(): Promise<string> {
  const dir = join(root, 'test/.cache/bench');
  const path = join(dir, `${SMOLLM2_135M_TEXT.id}.gguf`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, await textOnlyModel());
  }
  return path;
}

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    tokens: { type: 'string', default: '32' },
    engines: { type: 'string', default: 'gpu,cpu' },
    threads: { type: 'string' },
  },
});
const engines = values.engines.split(',').filter((e): e is 'gpu' | 'cpu' => /^(gpu|cpu)$/.test(e));
const modelPath = values.model ?? (await defaultModel());
const maxTokens = Number(values.tokens);

const pageServer = await serveIsolatedPage(join(import.meta.dirname, 'browser-page'));
const files = await startFixtureServer();
const bytes = readFileSync(modelPath);
const url = files.setFile('bench.gguf', bytes);
const browser = await launchBrowser();
try {
  const page = await browser.context.newPage();
  await page.goto(pageServer.url);
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached' });
  const results: BenchRun[] = [];
  for (const engine of engines) {
    results.push(
      await page.evaluate(
        ([u, e, n, t]) => (window as unknown as { bench: BenchApi }).bench.run(u, e, n, t),
        [url, engine, maxTokens, values.threads ? Number(values.threads) : undefined] as const,
      ),
    );
  }
  const mb = (bytes.length / 1e6).toFixed(0);
  console.log(
    `model ${modelPath} (${mb} MB), ${maxTokens} tokens asked, ${cpus().length} CPU cores, headless Chromium`,
  );
  for (const r of results) {
    const s = r.stats;
    const name =
      r.engine === 'gpu' ? `GPU engine on ${r.adapter}` : `CPU engine, ${r.threads} thread(s)`;
    const predicted = r.engine === 'gpu' ? r.predictedGpu : r.predictedCpu;
    const implied =
      r.engine === 'cpu' ? `, implied CPU efficiency ${r.impliedCpuEfficiency.toPrecision(2)}` : '';
    console.log(
      `${name}: prefill ${s?.prefillTokensPerSecond.toFixed(1)} tok/s (${s?.promptTokens} tokens), ` +
        `decode ${s?.decodeTokensPerSecond.toFixed(1)} tok/s (${s?.generatedTokens} tokens); ` +
        `planner predicted ${predicted.toPrecision(3)} tok/s${implied}; ` +
        `one thread read ${r.cpuReadGBps.toFixed(2)} GB/s in the page` +
        (r.cpuThreadedReadGBps === null
          ? ''
          : `, a thread per core ${r.cpuThreadedReadGBps.toFixed(2)} GB/s together`) +
        `; the planner gives the CPU engine ${r.plannedThreads} thread(s)`,
    );
  }
  console.log(`the planner picks: ${results[0].plannerPicks} (CPU_EFFICIENCY ${CPU_EFFICIENCY})`);
} finally {
  await browser.close();
  await files.close();
  await pageServer.close();
}
