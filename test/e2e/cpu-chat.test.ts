// The app in a Chromium without WebGPU (the flags off: no adapter at all) still plans and chats:
// the Models view plans a model onto the CPU engine, the chat runs it there with a thread per core
// and llama.cpp's own greedy reply, and the Hardware view shows the CPU it runs on, cross-origin
// isolated.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureFixture } from '../fixtures/gguf/ensure';
import { startFixtureServer, type FixtureServer } from '../fixtures/server';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';
import { chatTurn } from './chat-turn';
import { llamaReply } from './llama-reply';

// Its greedy reply to this message stays valid text for these many tokens (see cpu-engine.test).
const FIXTURE = 'qwen2-q8_0';
const MESSAGE = 'The quick brown fox';
const MAX_TOKENS = 8;
const UI_WAIT = { timeout: 15_000 };

let app: AppServer;
let files: FixtureServer;
let browser: Browser;
let modelUrl: string;

beforeAll(async () => {
  files = await startFixtureServer();
  modelUrl = files.setFile(`${FIXTURE}.gguf`, readFileSync(ensureFixture(FIXTURE)));
  app = await serveBuiltApp();
  browser = await launchBrowser({ webgpu: false });
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await files?.close();
});

it('shows the CPU in the Hardware view: threads, isolation, memory, measured rate', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${app.url}#/hardware`);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  await expect
    .poll(() => page.getByTestId('cpu-threads').textContent(), UI_WAIT)
    .toContain(`${cores} of ${cores} logical core`);
  expect(await page.getByTestId('cpu-isolation').textContent()).toMatch(/^\s*yes/);
  expect(await page.getByTestId('cpu-read-rate').textContent()).toMatch(/[\d.]+ GB\/s per thread/);
  expect(await page.getByTestId('cpu-memory').textContent()).toMatch(/GiB/);
  await page.close();
});

it('plans a model in the Models view onto the CPU engine with no WebGPU adapter at all', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${app.url}#/models`);
  const adapter = await page.evaluate(async () =>
    'gpu' in navigator ? (await navigator.gpu.requestAdapter()) !== null : false,
  );
  expect(adapter).toBe(false);
  await expect
    .poll(() => page.getByTestId('no-gpu').textContent(), UI_WAIT)
    .toMatch(/planned for the CPU engine/);
  // The catalogue is listed; WebLLM, which needs WebGPU, offers nothing.
  expect(await page.locator('[data-testid^="catalogue-"]').count()).toBeGreaterThan(0);
  expect(await page.locator('[data-testid^="webllm-"]').count()).toBe(0);

  await page.getByLabel('Address of a .gguf file').fill(modelUrl);
  await page.getByRole('button', { name: 'Plan it' }).click();
  const card = page.getByTestId('custom-model');
  await expect
    .poll(() => card.getByTestId('plan').getAttribute('data-fits'), { timeout: 60_000 })
    .toBe('full');
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  expect(await card.getByTestId('verdict').textContent()).toMatch(
    new RegExp(`Runs on the CPU engine.*[\\d.]+ tok/s.*${cores} threads?`, 's'),
  );
  const engine = card.getByTestId('engine-choice');
  expect(await engine.getAttribute('data-engine')).toBe('cpu');
  expect(await engine.textContent()).toMatch(/no WebGPU here; there is no WebGPU adapter/);
  await page.close();
});

it("stores the planned model, uses it in chat and answers with llama.cpp's reply", async () => {
  const page = await browser.context.newPage();
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${app.url}#/models`);
  // The model added in the test before is listed again after the reload.
  const card = page.getByTestId('custom-model');
  await expect
    .poll(() => card.getByTestId('plan').getAttribute('data-fits'), { timeout: 60_000 })
    .toBe('full');
  await card.getByRole('button', { name: /^Download/ }).click();
  await expect
    .poll(() => card.getByTestId('model-actions').getAttribute('data-stored'), { timeout: 60_000 })
    .toBe('true');
  await card.getByRole('button', { name: 'Use in chat' }).click();
  await expect.poll(() => page.evaluate(() => location.hash)).toBe('#/chat');
  await expect
    .poll(() => page.locator('.model-bar .ready').textContent(), { timeout: 120_000 })
    .toBe('loaded · 256-token context');
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  expect(await page.getByTestId('cpu-engine-threads').textContent()).toBe(
    `on the CPU engine, ${cores} thread${cores === 1 ? '' : 's'}`,
  );

  const expected = await llamaReply(
    ensureFixture(FIXTURE),
    [{ role: 'user', content: MESSAGE }],
    MAX_TOKENS,
  );
  expect(expected.text).not.toContain('\ufffd');
  expect(expected.ids.length).toBe(MAX_TOKENS);
  await page.locator('button.new').click();
  expect(await chatTurn(page, MESSAGE, MAX_TOKENS)).toBe(expected.text);
  expect(errors).toEqual([]);
  await page.close();
});
