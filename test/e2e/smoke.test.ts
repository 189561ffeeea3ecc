import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';

let server: AppServer;
let browser: Browser;

beforeAll(async () => {
  server = await serveBuiltApp();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it('gets a SwiftShader adapter from navigator.gpu on the served page', async () => {
  const page = await browser.context.newPage();
  await page.goto(server.url);
  const info = await page.evaluate(async () => {
    const adapter = await navigator.gpu.requestAdapter();
    return adapter && { vendor: adapter.info.vendor, architecture: adapter.info.architecture };
  });
  expect(info).toEqual({ vendor: 'google', architecture: 'swiftshader' });
});

it('first open: the chat says what to do and names one small model to start with', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${server.url}#/chat`);
  const bar = page.locator('.model-bar');
  await expect.poll(() => bar.textContent()).toContain('No model chosen');
  await expect
    .poll(() => page.getByTestId('first-model').textContent())
    .toMatch(/for a first try, SmolLM2 \S+ Instruct \S+ \(\d[^)]*B\) downloads quickly/);
  await page.getByRole('link', { name: 'Choose a model' }).click();
  await expect.poll(() => page.url()).toMatch(/#\/models$/);
  await page.close();
});
