// The Documents view in headless Chromium on SwiftShader: a generated PDF added with visible
// progress, read, chunked and embedded on the GPU by a stored embedding GGUF; a question answered
// by a stored chat model with numbered sources whose citation opens the right page; no request
// leaves the page while doing it; it all works offline after one visit; deleting a document
// leaves none of its text, chunks or vectors in IndexedDB.
import { readFileSync, statSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureEmbeddingFixture, ensureLongContextChat } from '../fixtures/gguf/variants';
import { pdfWithPages } from '../fixtures/documents/generate';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';
import { untilServiceWorkerControls } from './page-state';

const UI_WAIT = { timeout: 15_000 };
const WORK_WAIT = { timeout: 180_000 };
const EMBED = 'qwen3-embed-last-f32';

let app: AppServer;
let browser: Browser;
let page: Page;
const requests: { url: string; method: string }[] = [];

/** Entries in the documents' three IndexedDB stores, read directly, not through src/store. */
function storedCounts(p: Page): Promise<number[]> {
  return p.evaluate(async () => {
    const count = (db: string, store: string) =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open(db);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const conn = open.result;
          if (!conn.objectStoreNames.contains(store)) return resolve(0);
          const req = conn.transaction(store).objectStore(store).count();
          req.onsuccess = () => (resolve(req.result), conn.close());
          req.onerror = () => reject(req.error);
        };
      });
    return [
      await count('layerwise-documents', 'documents'),
      await count('layerwise-document-texts', 'texts'),
      await count('layerwise-document-chunks', 'chunks'),
    ];
  });
}

/** Requests that reached past the page: anything not answered by the app's own service worker. */
function leaked(): { url: string; method: string }[] {
  return requests.filter((r) => !r.url.startsWith('blob:') && !r.url.startsWith('data:'));
}

beforeAll(async () => {
  app = await serveBuiltApp();
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on('requestfinished', async (r) => {
    const response = await r.response();
    if (!response?.fromServiceWorker()) requests.push({ url: r.url(), method: r.method() });
  });
  page.on('requestfailed', (r) => requests.push({ url: r.url(), method: r.method() }));
  const chatPath = ensureLongContextChat();
  const embedPath = ensureEmbeddingFixture(EMBED);
  await page.goto(`${app.url}#/storage`);
  await page.getByLabel('GGUF file to import').setInputFiles([
    { name: 'embed.gguf', mimeType: 'application/octet-stream', buffer: readFileSync(embedPath) },
    { name: 'chat.gguf', mimeType: 'application/octet-stream', buffer: readFileSync(chatPath) },
  ]);
  await vi.waitFor(
    async () => expect(await page.locator('tr[data-state="complete"]').count()).toBe(2),
    { ...WORK_WAIT, interval: 250 },
  );
  const chatId = `file:chat.gguf:${statSync(chatPath).size}`;
  await page.evaluate(
    (choice) => localStorage.setItem('layerwise:session-model', choice),
    JSON.stringify({
      kind: 'gguf',
      id: chatId,
      label: 'chat.gguf',
      source: { type: 'store', modelId: chatId },
    }),
  );
  // Short answers: the fixture chat model's words are random, only the sources are checked.
  await page.evaluate(() =>
    localStorage.setItem('layerwise:documents', JSON.stringify({ answerTokens: 8 })),
  );
  // The service worker precaches the shell, the workers and pdf.js on this first visit.
  await page.goto(`${app.url}#/documents`);
  await untilServiceWorkerControls(page);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('documents in the browser', () => {
  it('adds a PDF with progress and answers with numbered sources, no request leaving the page', async () => {
    const pdf = await pdfWithPages([
      [['Welcome to the handbook.'], ['It covers the office and its rules.']],
      [['The reset code for the blue door is 7351.'], ['Ask the front desk for a badge.']],
      [['Lunch is served at noon on the third floor.']],
    ]);
    await page.getByLabel('Embedding model').selectOption({ label: 'embed.gguf' });
    requests.length = 0;
    await page.getByLabel('Documents to add').setInputFiles({
      name: 'handbook.pdf',
      mimeType: 'application/pdf',
      buffer: Buffer.from(pdf),
    });
    await expect.poll(() => page.getByTestId('ingest-progress').count(), UI_WAIT).toBe(1);
    await expect
      .poll(() => page.getByTestId('documents-notice').textContent(), WORK_WAIT)
      .toMatch(/^Added "handbook\.pdf": \d+ chunks?\.$/);
    const row = page.getByTestId('document-row');
    await expect
      .poll(() => row.textContent())
      .toMatch(/handbook\.pdf.*3 pages.*qwen3-embed-last-f32/s);

    await page
      .getByLabel('Question', { exact: true })
      .fill('What is the reset code for the blue door?');
    await page.getByRole('button', { name: 'Ask' }).click();
    await expect
      .poll(() => page.locator('article.answer[aria-busy="false"]').count(), WORK_WAIT)
      .toBe(1);
    const sources = page.getByTestId('source');
    const notice = page.getByTestId('documents-notice');
    expect(
      await sources.count(),
      (await notice.count()) ? String(await notice.textContent()) : 'no notice',
    ).toBeGreaterThan(0);
    const pageTwo = sources.filter({ hasText: 'handbook.pdf, page 2' });
    expect(await pageTwo.first().textContent()).toContain('7351');
    expect(await page.getByTestId('answer').textContent()).not.toBe('');

    await pageTwo.first().getByRole('button').click();
    const viewer = page.getByTestId('chunk-viewer');
    await expect
      .poll(() => viewer.locator('h2').textContent(), UI_WAIT)
      .toBe('handbook.pdf, page 2');
    expect(await viewer.locator('mark').textContent()).toContain(
      'The reset code for the blue door is 7351.',
    );
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe(
      'chunk-viewer',
    );
    expect(leaked()).toEqual([]);
  }, 300_000);

  it('cancels a large file mid-way with nothing stored', async () => {
    const before = await storedCounts(page);
    const line = 'A long plain text line that repeats to make a large file.\n';
    await page.getByLabel('Documents to add').setInputFiles({
      name: 'large.txt',
      mimeType: 'text/plain',
      buffer: Buffer.from(line.repeat(Math.ceil((8 * 1024 * 1024) / line.length))),
    });
    await expect.poll(() => page.getByTestId('ingest-progress').count(), UI_WAIT).toBe(1);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect
      .poll(() => page.getByTestId('documents-notice').textContent(), UI_WAIT)
      .toBe('Cancelled; nothing was stored.');
    expect(await page.getByTestId('ingest-progress').count()).toBe(0);
    expect(await storedCounts(page)).toEqual(before);
    expect(await page.getByTestId('document-row').count()).toBe(1);
  }, 120_000);

  it('at 390 px wide nothing overflows, and a question can be asked by keyboard alone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        390,
      );
      await page.getByLabel('Question', { exact: true }).focus();
      await page.keyboard.type('reset code');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Space');
      expect(await page.getByLabel('Search only').isChecked()).toBe(true);
      await page.keyboard.press('Tab');
      await page.keyboard.press('Enter');
      await expect
        .poll(() => page.locator('article.answer[aria-busy="false"]').count(), WORK_WAIT)
        .toBe(1);
      // Focus follows the action: the results' heading, then a result opens by keyboard.
      expect(await page.evaluate(() => document.activeElement?.textContent?.trim())).toBe(
        'Matching chunks',
      );
      await page.getByTestId('source').first().getByRole('button').focus();
      await page.keyboard.press('Enter');
      await expect
        .poll(
          () => page.evaluate(() => document.activeElement?.getAttribute('data-testid')),
          UI_WAIT,
        )
        .toBe('chunk-viewer');
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        390,
      );
      // Closing the viewer by keyboard returns focus to the result that opened it.
      await page.getByTestId('chunk-viewer').getByRole('button', { name: 'Close' }).focus();
      await page.keyboard.press('Enter');
      await expect
        .poll(() => page.evaluate(() => document.activeElement?.closest('li')?.dataset.testid))
        .toBe('source');
      await page.getByLabel('Search only').uncheck();
    } finally {
      await page.setViewportSize({ width: 1280, height: 720 });
    }
  }, 120_000);

  it('works offline after one visit: adds pasted text and finds it in search-only mode', async () => {
    await browser.context.setOffline(true);
    try {
      await page.reload();
      await expect.poll(() => page.getByTestId('document-row').count(), UI_WAIT).toBe(1);
      await page.getByLabel('Title of pasted text').fill('recipes');
      await page
        .getByLabel('Pasted text', { exact: true })
        .fill('Pancakes need flour, milk and two eggs.');
      await page.getByRole('button', { name: 'Add text' }).click();
      await expect
        .poll(() => page.getByTestId('documents-notice').textContent(), WORK_WAIT)
        .toBe('Added "recipes.txt": 1 chunk.');
      await page.getByLabel('Question', { exact: true }).fill('pancakes eggs');
      await page.getByLabel('Search only').check();
      await page.getByRole('button', { name: 'Ask' }).click();
      await expect
        .poll(() => page.locator('article.answer[aria-busy="false"]').count(), WORK_WAIT)
        .toBe(1);
      expect(await page.getByTestId('source').first().textContent()).toContain(
        'Pancakes need flour',
      );
      expect(await page.getByTestId('answer').count()).toBe(0);
    } finally {
      await browser.context.setOffline(false);
    }
  }, 300_000);

  it('deleting documents removes their text, chunks and vectors from IndexedDB', async () => {
    const before = await storedCounts(page);
    expect(before[0]).toBe(2);
    expect(before[2]).toBeGreaterThanOrEqual(2);
    await page.getByRole('button', { name: 'Delete handbook.pdf' }).click();
    await expect.poll(() => page.getByTestId('document-row').count(), UI_WAIT).toBe(1);
    const after = await storedCounts(page);
    expect(after).toEqual([1, 1, 1]);
    await page.getByRole('button', { name: 'Delete recipes.txt' }).click();
    await expect.poll(() => storedCounts(page), UI_WAIT).toEqual([0, 0, 0]);
  });
});
