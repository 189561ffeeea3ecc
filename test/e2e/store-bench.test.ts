// Store-to-GPU read throughput against raw IndexedDB reads, measured in headless Chromium on
// SwiftShader through the Storage view's "Measure read speed" button. Prints the figures that
// docs/performance.md records.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';
import { modelBytes, sha256, startFixtureServer, type FixtureServer } from '../fixtures/server';
import { readStoredModel } from './store-page';

const SIZE = 64 * 1024 * 1024;

let app: AppServer;
let browser: Browser;
let files: FixtureServer;

beforeAll(async () => {
  files = await startFixtureServer();
  app = await serveBuiltApp();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await files?.close();
});

it('reports store-to-GPU and raw IndexedDB read throughput for a 64 MiB model in 16 MiB chunks', async () => {
  const bytes = modelBytes(SIZE, 77);
  const url = files.setFile('bench.gguf', bytes);
  const page = await browser.context.newPage();
  await page.goto(`${app.url}#/storage`);
  await page.getByLabel('GGUF file URL').fill(url);
  await page.getByRole('button', { name: 'Download', exact: true }).click();
  const row = page.locator(`tr[data-model-id="${url}"]`);
  await expect.poll(() => row.getAttribute('data-state'), { timeout: 120_000 }).toBe('complete');
  expect(await readStoredModel(page, url)).toEqual({
    state: 'complete',
    chunks: 4,
    length: SIZE,
    sha256: sha256(bytes),
  });
  await row.getByRole('button', { name: 'Measure read speed' }).click();
  const result = page.locator('.bench-result');
  await expect.poll(() => result.count(), { timeout: 120_000 }).toBe(1);
  const text = (await result.textContent())!.replace(/\s+/g, ' ').trim();
  console.log(`store read benchmark: ${text}`);
  const figures = text.match(
    /raw IndexedDB ([\d.]+) MB\/s; store to GPU ([\d.]+) MB\/s with chunk hashes checked, ([\d.]+) MB\/s without/,
  );
  expect(figures, text).not.toBeNull();
  const [raw, verified, unverified] = figures!.slice(1).map(Number);
  expect(text).toMatch(/^Read 64 MiB on .*swiftshader/i);
  for (const rate of [raw, verified, unverified]) expect(rate).toBeGreaterThan(1);
});
