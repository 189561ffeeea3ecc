// Cross-origin isolation and the Content Security Policy as headers, wherever the built app is
// served: `npm start` (vite preview) sends them itself; a static host that sends no headers gets
// them from the service worker after the first visit reloads once. The engine worker is bound by
// the policy too, and a model download from another local origin still works under COEP.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECURITY_HEADERS } from '../../src/security-headers';
import { startFixtureServer, generateBytes, type FixtureServer } from '../fixtures/server';
import {
  bareStaticHost,
  launchBrowser,
  serveBuiltApp,
  type AppServer,
  type Browser,
} from './browser';

const dist = process.env.LAYERWISE_DIST ?? resolve(import.meta.dirname, '../../dist');

/** The engine worker's script, started as the app starts it, and a fetch made from inside it. */
async function fetchFromEngineWorker(page: Page, url: string): Promise<string> {
  const script = readdirSync(join(dist, 'assets')).find((f) => /^worker-[\w-]+\.js$/.test(f));
  const started = page.waitForEvent('worker');
  await page.evaluate(
    (src) => new Worker(new URL(src, location.href), { type: 'module', name: 'engine' }),
    `assets/${script}`,
  );
  const worker = await started;
  return worker.evaluate(
    (target) =>
      fetch(target).then(
        (r) => `sent ${r.status}`,
        () => 'blocked',
      ),
    url,
  );
}

let browser: Browser;
let files: FixtureServer;

beforeAll(async () => {
  browser = await launchBrowser({ webgpu: false });
  files = await startFixtureServer();
  files.setFile('model.bin', generateBytes(4096, 7));
});
afterAll(async () => {
  await browser?.close();
  await files?.close();
});

describe('served by npm start', () => {
  let app: AppServer;
  beforeAll(async () => {
    app = await serveBuiltApp();
  });
  afterAll(() => app?.close());

  it('sends the isolation headers and the policy with every response', async () => {
    const page = await browser.context.newPage();
    const response = await page.goto(app.url);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      expect(response?.headers()[name.toLowerCase()]).toBe(value);
    }
    const script = readdirSync(join(dist, 'assets')).find((f) => /^worker-[\w-]+\.js$/.test(f));
    const worker = await page.request.get(`${app.url}assets/${script}`);
    expect(worker.headers()['content-security-policy']).toBe(
      SECURITY_HEADERS['Content-Security-Policy'],
    );
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await page.close();
  });

  it('renders every view within the policy, inline styles included (no unsafe-inline)', async () => {
    expect(SECURITY_HEADERS['Content-Security-Policy']).toContain("style-src 'self';");
    const page = await browser.context.newPage();
    await page.addInitScript(() => {
      const seen: string[] = [];
      (window as unknown as { violations: string[] }).violations = seen;
      document.addEventListener('securitypolicyviolation', (e) =>
        seen.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`),
      );
    });
    await page.goto(app.url);
    for (const view of ['chat', 'documents', 'models', 'storage', 'hardware', 'settings']) {
      await page.goto(`${app.url}#/${view}`);
      await page.locator('h1').first().waitFor();
    }
    expect(
      await page.evaluate(() => (window as unknown as { violations: string[] }).violations),
    ).toEqual([]);
    await page.close();
  });

  it('keeps the engine worker to the policy, and lets a model come from another local origin', async () => {
    const page = await browser.context.newPage();
    await page.goto(app.url);
    expect(await fetchFromEngineWorker(page, 'https://example.com/')).toBe('blocked');
    // The fixture server's "CDN" origin (http://localhost:<port>) answers with CORS.
    const cdn = files.url.replace('127.0.0.1', 'localhost');
    const seen: string[] = [];
    page.on('request', (request) => seen.push(request.url()));
    expect(await fetchFromEngineWorker(page, `${cdn}/models/model.bin`)).toBe('sent 200');
    // The page's request log includes its workers' requests, so a test that finds no request
    // during a chat turn (chat.test.ts) covers the engine worker too.
    expect(seen).toContain(`${cdn}/models/model.bin`);
    expect(
      await page.evaluate(
        (u) => fetch(u).then(async (r) => (await r.arrayBuffer()).byteLength),
        `${files.url}/models/model.bin`,
      ),
    ).toBe(4096);
    await page.close();
  });
});

describe('served by a static host that sends no headers', () => {
  let host: AppServer;
  beforeAll(async () => {
    host = await bareStaticHost();
  });
  afterAll(() => host?.close());

  it('is cross-origin isolated after the first load, through the service worker', async () => {
    const page = await browser.context.newPage();
    const response = await page.goto(host.url);
    expect(response?.headers()['cross-origin-opener-policy']).toBeUndefined();
    // The service worker takes over and the page reloads once, now with the headers.
    await expect
      .poll(() => page.evaluate(() => crossOriginIsolated).catch(() => false), {
        timeout: 30_000,
      })
      .toBe(true);
    expect(await fetchFromEngineWorker(page, 'https://example.com/')).toBe('blocked');
    await page.close();
  });
});
