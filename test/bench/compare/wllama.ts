// Headless Chromium with the compare page (test/bench/compare-page) built by Vite and served on
// 127.0.0.1 with the app's security headers, so the page is cross-origin isolated and llama.cpp
// in WebAssembly gets its threads; the model files come from the local fixture server.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchBrowser, type Browser } from '../../e2e/browser.ts';
import { serveIsolatedPage, type IsolatedPage } from '../isolated-page.ts';
import { startFixtureServer, type FixtureServer } from '../../fixtures/server.ts';
import type { WllamaPageApi } from '../compare-page/main.ts';
import type { RunRates } from './contenders.ts';

type Api = { wllamaBench: WllamaPageApi };

export class WllamaPage {
  private constructor(
    private readonly page: Page,
    private readonly browser: Browser,
    private readonly pageServer: IsolatedPage,
    private readonly files: FixtureServer,
  ) {}

  static async open(): Promise<WllamaPage> {
    const pageServer = await serveIsolatedPage(join(import.meta.dirname, '../compare-page'));
    const files = await startFixtureServer();
    const browser = await launchBrowser({ webgpu: false });
    const page = await browser.context.newPage();
    await page.goto(pageServer.url);
    await page.waitForSelector('body[data-ready="true"]', { state: 'attached' });
    return new WllamaPage(page, browser, pageServer, files);
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
    await this.pageServer.close();
  }
}
