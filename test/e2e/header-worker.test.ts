// The Models view reads a GGUF header in a worker of its own, never on the page's thread: a
// picked file with a large vocabulary is planned while the page keeps answering.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';
import { FIXTURES, buildFixture } from '../fixtures/gguf/models';
import { arr, ValueType, writeGguf } from '../fixtures/gguf/writer';

let app: AppServer;
let browser: Browser;

beforeAll(async () => {
  app = await serveBuiltApp();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

it('plans a picked file from a header read in a header worker, and every such worker ends', async () => {
  const page = await browser.context.newPage();
  const workers: string[] = [];
  const ended: string[] = [];
  page.on('worker', (worker) => {
    workers.push(worker.url());
    worker.on('close', () => ended.push(worker.url()));
  });
  await page.goto(`${app.url}#/models`);
  await expect
    .poll(() => page.getByRole('heading', { name: 'Models', level: 1 }).isVisible())
    .toBe(true);
  // A 200,000-entry merges list on top of the fixture: seconds of parsing on the page before.
  const built = buildFixture(FIXTURES.find((f) => f.id === 'qwen2-q5_0')!);
  const merges = Array.from({ length: 200_000 }, (_, i) => `m${i} e${i}`);
  const bytes = writeGguf(
    { ...built.metadata, 'tokenizer.ggml.merges': arr(ValueType.STRING, merges) },
    built.tensors,
  ).bytes;
  await page.getByLabel('GGUF file to add').setInputFiles({
    name: 'big-merges.gguf',
    mimeType: 'application/octet-stream',
    buffer: Buffer.from(bytes),
  });
  const card = page.getByTestId('custom-model').filter({ hasText: 'big-merges.gguf' });
  await expect
    .poll(() => card.getByTestId('plan').getAttribute('data-fits'), { timeout: 60_000 })
    .toBe('full');
  // One worker per header read (the catalogue's cards read theirs too), each ended when answered.
  const headerWorkers = workers.filter((url) => /header-worker/.test(url));
  expect(headerWorkers.length).toBeGreaterThanOrEqual(1);
  await expect
    .poll(() => ended.filter((url) => /header-worker/.test(url)).length, { timeout: 30_000 })
    .toBe(workers.filter((url) => /header-worker/.test(url)).length);
  await page.close();
});
