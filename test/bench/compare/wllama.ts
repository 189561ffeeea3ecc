// Headless Chromium with the compare page (test/bench/compare-page) built by Vite and served on
// 127.0.0.1 with the app's security headers, so the page is cross-origin isolated and llama.cpp
// in WebAssembly gets its threads; the model files come from the local fixture server.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { SECURITY_HEADERS } from '../../../src/security-headers.ts';
import { launchBrowser, type Browser } from '../../e2e/browser.ts';
import { startFixtureServer, type FixtureServer } from '../../fixtures/server.ts';
import type { WllamaPageApi } from '../compare-page/main.ts';
import type { RunRates } from './contenders.ts';

type Api = { wllamaBench: WllamaPageApi };

export class WllamaPage {
  private constructor(
    private readonly page: Page,
    private readonly browser: Browser,
    private readonly server: PreviewServer,
    private readonly files: FixtureServer,
    private readonly outDir: string,
  ) {}

  static async open(): Promise<WllamaPage> {
    const outDir = await mkdtemp(join(tmpdir(), 'layerwise-compare-page-'));
    const pageRoot = join(import.meta.dirname, '../compare-page');
    await build({
      root: pageRoot,
      base: './',
      configFile: false,
      logLevel: 'warn',
      worker: { format: 'es' },
      build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 100_000 },
    });
    const server = await preview({
      root: pageRoot,
      configFile: false,
      logLevel: 'warn',
      build: { outDir },
      preview: { host: '127.0.0.1', port: 0, headers: SECURITY_HEADERS },
    });
    const files = await startFixtureServer();
    const browser = await launchBrowser({ webgpu: false });
    const page = await browser.context.newPage();
    await page.goto(server.resolvedUrls!.local[0]);
    await page.waitForSelector('body[data-ready="true"]', { state: 'attached' });
    return new WllamaPage(page, browser, server, files, outDir);
  }

  /** Serves the model file to the page; returns its URL. */
  serve(path: string): string {
    return this.files.setFile(basename(path), readFileSync(path));
  }

  async load(id: string, url: string, threads: number, contextTokens: number): Promise<void> {
    const got = await this.page.evaluate(
      ([i, u, t, c]) => (window as unknown as Api).wllamaBench.load(i, u, t, c),
      [id, url, threads, contextTokens] as const,
    );
    if (got.threads !== threads) {
      throw new Error(
        `${id}: llama.cpp runs ${got.threads} thread(s), not ${threads} ` +
          `(cross-origin isolated: ${got.isolated})`,
      );
    }
  }

  run(id: string, prompt: string, promptTokens: number, decode: number): Promise<RunRates> {
    return this.page.evaluate(
      ([i, p, n, d]) => (window as unknown as Api).wllamaBench.run(i, p, n, d),
      [id, prompt, promptTokens, decode] as const,
    );
  }

  unload(id: string): Promise<void> {
    return this.page.evaluate((i) => (window as unknown as Api).wllamaBench.unload(i), id);
  }

  async close(): Promise<void> {
    await this.browser.close();
    await this.files.close();
    this.server.httpServer.close();
    await rm(this.outDir, { recursive: true, force: true });
  }
}
