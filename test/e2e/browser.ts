// Headless Debian Chromium on SwiftShader, driven by playwright-core, against the built app
// served on 127.0.0.1 (WebGPU exists only in secure contexts).
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { preview, type PreviewServer } from 'vite';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const BASE_FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A persistent context on a fresh user-data-dir, so IndexedDB and the service worker behave as for a user. */
export async function launchBrowser(options: { webgpu?: boolean } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: run \`npm run setup:system\` as root.`);
  }
  const userDataDir = await mkdtemp(join(tmpdir(), 'layerwise-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...BASE_FLAGS, ...(options.webgpu === false ? [] : WEBGPU_FLAGS)],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

export interface AppServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the production build in `dist/` (npm test builds it before the e2e tests run), or in
 * `outDir` (an absolute path) while working on one view, so a build does not disturb others'.
 */
export async function serveBuiltApp(outDir = process.env.LAYERWISE_DIST): Promise<AppServer> {
  const root = resolve(import.meta.dirname, '../..');
  const dist = outDir ?? join(root, 'dist');
  if (!existsSync(join(dist, 'index.html'))) {
    throw new Error(`${dist} is missing: run \`npm run build\` before the e2e tests.`);
  }
  const server: PreviewServer = await preview({
    root,
    configFile: join(root, 'vite.config.ts'),
    build: { outDir: dist },
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
    logLevel: 'silent',
  });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite preview did not report a URL');
  return { url, close: () => server.close() };
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * The production build served by a static file server that sends no security headers at all, as
 * many static hosts do; paths in `missing` answer 404 (e.g. the service worker, so that nothing
 * ever adds the headers).
 */
export async function bareStaticHost(
  options: { outDir?: string; missing?: string[] } = {},
): Promise<AppServer> {
  const dist =
    options.outDir ?? process.env.LAYERWISE_DIST ?? resolve(import.meta.dirname, '../../dist');
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = join(dist, path === '/' ? 'index.html' : path);
    try {
      if (options.missing?.includes(path)) throw new Error('missing');
      const body = readFileSync(file);
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
