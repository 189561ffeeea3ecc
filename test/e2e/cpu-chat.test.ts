// The app in a Chromium without WebGPU (the flags off: no adapter at all) still chats: the
// engine worker runs the model on the CPU engine, with llama.cpp's own greedy reply, and the
// Hardware view shows the CPU it runs on, cross-origin isolated with a thread per core.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureFixture } from '../fixtures/gguf/ensure';
import { startFixtureServer, type FixtureServer } from '../fixtures/server';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';
import { llamaReply } from './llama-reply';

// Its greedy reply to this message stays valid text for these many tokens (see cpu-engine.test).
const FIXTURE = 'qwen2-q8_0';
const MESSAGE = 'The quick brown fox';
const MAX_TOKENS = 8;
const SESSION_KEY = 'layerwise:session-model';
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

it("chats through the CPU engine with no WebGPU adapter, with llama.cpp's reply", async () => {
  const page = await browser.context.newPage();
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${app.url}#/hardware`);
  const adapter = await page.evaluate(async () =>
    'gpu' in navigator ? (await navigator.gpu.requestAdapter()) !== null : false,
  );
  expect(adapter).toBe(false);
  // A GGUF model chosen without a plan: the page plans it here, finds no WebGPU adapter and plans
  // it onto the CPU engine.
  const choice = {
    kind: 'gguf',
    id: FIXTURE,
    label: `${FIXTURE}.gguf`,
    source: { type: 'url', url: modelUrl },
  };
  await page.evaluate(([key, value]) => localStorage.setItem(key, value), [
    SESSION_KEY,
    JSON.stringify(choice),
  ] as const);
  await page.goto(`${app.url}#/chat`);
  await page.reload();
  await page.locator('button.new').click();
  await page.getByRole('button', { name: 'Load now' }).click();
  await expect
    .poll(() => page.locator('.model-bar .ready').textContent(), { timeout: 120_000 })
    .toBe('loaded · 256-token context');

  await page.locator('summary', { hasText: 'System prompt and sampling' }).click();
  const field = page.getByLabel('Longest answer (tokens)');
  await field.fill(String(MAX_TOKENS));
  await field.dispatchEvent('change');
  const input = page.locator('#chat-input');
  await input.fill(MESSAGE);
  await input.press('Enter');
  const answer = page.locator('article.message.assistant:not(.streaming)');
  await expect
    .poll(async () => (await page.locator('article.streaming').count()) === 0 && answer.count(), {
      timeout: 120_000,
    })
    .toBe(1);
  const expected = await llamaReply(
    ensureFixture(FIXTURE),
    [{ role: 'user', content: MESSAGE }],
    MAX_TOKENS,
  );
  expect(expected.text).not.toContain('\ufffd');
  expect(expected.ids.length).toBe(MAX_TOKENS);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export JSON' }).click(),
  ]);
  const stored = JSON.parse(readFileSync((await download.path())!, 'utf8')).conversation;
  const reply = Object.values(
    stored.messages as Record<string, { role: string; content: string }>,
  ).find((m) => m.role === 'assistant');
  expect(reply?.content).toBe(expected.text);
  expect(errors).toEqual([]);
  await page.close();
});
