import { readdir, readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';
import { untilServiceWorkerControls } from './page-state';

let server: AppServer;
let browser: Browser;
const dist = process.env.LAYERWISE_DIST ?? resolve(import.meta.dirname, '../../dist');

beforeAll(async () => {
  server = await serveBuiltApp();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it('serves an installable manifest with maskable icons', async () => {
  const page = await browser.context.newPage();
  await page.goto(server.url);
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  expect(href).toBeTruthy();
  const manifest = await (await page.request.get(new URL(href!, page.url()).href)).json();
  expect(manifest.name).toBe('Layerwise');
  expect(manifest.display).toBe('standalone');
  const sizes = manifest.icons.map(
    (i: { sizes: string; purpose: string }) => `${i.sizes} ${i.purpose}`,
  );
  expect(sizes).toEqual(expect.arrayContaining(['192x192 any', '512x512 any', '512x512 maskable']));
  for (const icon of manifest.icons) {
    const response = await page.request.get(new URL(icon.src, page.url()).href);
    expect(response.status(), icon.src).toBe(200);
  }
  await page.close();
});

it('precaches every shell file and leaves WebLLM out', async () => {
  const sw = await readFile(join(dist, 'sw.js'), 'utf8');
  const precached = new Set([...sw.matchAll(/url:"([^"]+)"/g)].map((m) => m[1]));
  const assets = await readdir(join(dist, 'assets'));
  for (const file of assets) {
    const webllm = /^(webllm|mlc\.worker)-/.test(file);
    expect(precached.has(`assets/${file}`), file).toBe(!webllm);
  }
  expect(precached.has('index.html')).toBe(true);
});

it('keeps WebLLM out of the first load and the shell JavaScript small', async () => {
  const html = await readFile(join(dist, 'index.html'), 'utf8');
  const scripts = [
    ...html.matchAll(
      /<(?:script[^>]*src|link[^>]*rel="modulepreload"[^>]*href)="\.\/([^"]+\.js)"/g,
    ),
  ].map((m) => m[1]);
  expect(scripts.length).toBeGreaterThan(0);
  let gzipBytes = 0;
  for (const script of scripts) {
    expect(script).not.toMatch(/webllm|mlc\.worker/);
    const code = await readFile(join(dist, script));
    gzipBytes += gzipSync(code).length;
  }
  // WebLLM alone is over 2 MB gzipped: this bound also fails if it slips into the first load.
  expect(gzipBytes).toBeLessThan(160 * 1024);
});

it('loads the app shell from the service worker when offline', async () => {
  const page = await browser.context.newPage();
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${server.url}#/hardware`);
  await untilServiceWorkerControls(page);

  await browser.context.setOffline(true);
  try {
    await page.reload();
    await expect.poll(() => page.getByRole('navigation', { name: 'Main' }).isVisible()).toBe(true);
    await expect.poll(() => page.getByTestId('vendor').first().textContent()).toBe('google');
    await page.goto(`${server.url}#/settings`);
    await expect.poll(() => page.getByRole('heading', { name: 'Settings' }).isVisible()).toBe(true);
    await page.goto(`${server.url}#/models`);
    await expect.poll(() => page.getByText('Offline', { exact: true }).isVisible()).toBe(true);
  } finally {
    await browser.context.setOffline(false);
  }
  expect(errors).toEqual([]);
  await page.close();
});

it('keeps the Content-Security-Policy to the page and the model hosts', async () => {
  const page = await browser.context.newPage();
  await page.goto(server.url);
  const csp = await page
    .locator('meta[http-equiv="Content-Security-Policy"]')
    .getAttribute('content');
  const directives = Object.fromEntries(
    csp!.split(';').map((d) => {
      const [name, ...values] = d.trim().split(/\s+/);
      return [name, values];
    }),
  );
  expect(directives['default-src']).toEqual(["'self'"]);
  expect(directives['script-src']).toEqual(["'self'", "'wasm-unsafe-eval'"]);
  expect(directives['connect-src']).toEqual(
    expect.arrayContaining([
      "'self'",
      'https://huggingface.co',
      'https://*.xethub.hf.co',
      'http://127.0.0.1:*',
    ]),
  );
  expect(directives['connect-src'].filter((s: string) => s.startsWith('http:'))).toEqual([
    'http://127.0.0.1:*',
    'http://localhost:*',
  ]);
  // The policy is enforced: a request to another host is refused by the browser.
  const blocked = await page.evaluate(async () => {
    try {
      await fetch('https://example.com/');
      return 'sent';
    } catch {
      return 'blocked';
    }
  });
  expect(blocked).toBe('blocked');
  await page.close();
});
