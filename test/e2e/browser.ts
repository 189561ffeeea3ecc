// Headless Debian Chromium on SwiftShader, driven by playwright-core, against the built app
// served on 127.0.0.1 (WebGPU exists only in secure contexts).
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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
