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
