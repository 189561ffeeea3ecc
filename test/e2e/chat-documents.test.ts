// Documents attached to a chat conversation, in headless Chromium on SwiftShader: a generated
// Markdown file added and embedded on the GPU, attached to a conversation by keyboard, a question
// answered by a stored chat model (one that always cites source 1) whose citation [1] opens the
// chunk under the right heading, kept across an offline reload, search-only replies, detaching,
// and at 390 px wide. No request leaves the page from adding the file to the last answer.
import { readFileSync, statSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CITING_ANSWER, ensureCitingChat, ensureEmbeddingFixture } from '../fixtures/gguf/variants';
import { axeViolations } from './axe';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';
import { saveSettings, untilServiceWorkerControls } from './page-state';

const UI_WAIT = { timeout: 15_000 };
const WORK_WAIT = { timeout: 180_000 };

const HANDBOOK = [
  '# Office handbook',
  '',
  '## Lunch',
  '',
  'Lunch is served at noon on the third floor.',
  '',
  '## Doors',
  '',
  'The reset code for the blue door is 7351.',
  '',
  '## Parking',
  '',
  'Parking spaces are behind the building.',
  '',
].join('\n');
const QUESTION = 'What is the reset code for the blue door?';
const DOORS = 'handbook.md, Office handbook › Doors';
/** The section's chunk: its heading line and its paragraph. */
const DOORS_CHUNK = '## Doors\n\nThe reset code for the blue door is 7351.';

let app: AppServer;
let browser: Browser;
let page: Page;
const requests: { url: string; method: string }[] = [];

/** Requests that reached past the page: anything not answered by the app's own service worker. */
function leaked(): { url: string; method: string }[] {
  return requests.filter((r) => !r.url.startsWith('blob:') && !r.url.startsWith('data:'));
}

function active(p: Page): Promise<{ label: string | null; text: string; testid: string | null }> {
  return p.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return {
      label: el?.getAttribute('aria-label') ?? null,
      text: el?.textContent?.trim() ?? '',
      testid: el?.getAttribute('data-testid') ?? null,
    };
  });
}

const assistantMessages = () => page.locator('article.message.assistant:not(.streaming)');

beforeAll(async () => {
  app = await serveBuiltApp();
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.on('requestfinished', async (r) => {
    const response = await r.response();
    if (!response?.fromServiceWorker()) requests.push({ url: r.url(), method: r.method() });
  });
  page.on('requestfailed', (r) => requests.push({ url: r.url(), method: r.method() }));
  const chatPath = ensureCitingChat();
  const embedPath = ensureEmbeddingFixture('qwen3-embed-last-f32');
  await page.goto(`${app.url}#/storage`);
  await page.getByLabel('GGUF file to import').setInputFiles([
    { name: 'embed.gguf', mimeType: 'application/octet-stream', buffer: readFileSync(embedPath) },
    { name: 'cite.gguf', mimeType: 'application/octet-stream', buffer: readFileSync(chatPath) },
  ]);
  await vi.waitFor(
    async () => expect(await page.locator('tr[data-state="complete"]').count()).toBe(2),
    { ...WORK_WAIT, interval: 250 },
  );
  const chatId = `file:cite.gguf:${statSync(chatPath).size}`;
  await page.evaluate(
    (choice) => localStorage.setItem('layerwise:session-model', choice),
    JSON.stringify({
      kind: 'gguf',
      id: chatId,
      label: 'cite.gguf',
      source: { type: 'store', modelId: chatId },
    }),
  );
  // The GPU engine (on a software adapter the planner would pick the CPU engine) at the model's
  // whole context, which the sources need.
  await saveSettings(page, { engine: 'gpu', contextLength: 2048 });
  // The service worker precaches the shell and the workers on this first visit.
  await page.goto(`${app.url}#/documents`);
  await untilServiceWorkerControls(page);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('documents attached to a chat', () => {
  it('adds a Markdown file, attaches it by keyboard, answers with citation [1] that opens the right heading, no request leaving the page', async () => {
    requests.length = 0;
    await page.getByLabel('Embedding model').selectOption({ label: 'embed.gguf' });
    await page.getByLabel('Documents to add').setInputFiles({
      name: 'handbook.md',
      mimeType: 'text/markdown',
      buffer: Buffer.from(HANDBOOK),
    });
    await expect
      .poll(() => page.getByTestId('documents-notice').textContent(), WORK_WAIT)
      .toMatch(/^Added "handbook\.md": \d+ chunks\.$/);
    await page.goto(`${app.url}#/chat`);
    await page.locator('button.new').click();
    await expect.poll(() => page.url(), UI_WAIT).toMatch(/#\/chat\/[\w-]+$/);

    const toggle = page.getByRole('button', { name: 'Attach documents' });
    await toggle.focus();
    await page.keyboard.press('Enter');
    // Focus moves into the picker: the whole collection first, then each document.
    await expect.poll(() => active(page).then((a) => a.text), UI_WAIT).toBe('');
    expect(
      await page
        .getByLabel('All documents, including ones added later')
        .evaluate((el) => el === document.activeElement),
    ).toBe(true);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Space');
    await expect
      .poll(() => page.getByTestId('attached-document').textContent(), UI_WAIT)
      .toMatch(/^\s*handbook\.md/);
    await page.keyboard.press('Escape');
    await expect.poll(() => active(page).then((a) => a.text), UI_WAIT).toBe('Attach documents');

    await page.locator('#chat-input').focus();
    await page.keyboard.type(QUESTION);
    await page.keyboard.press('Enter');
    const citation = assistantMessages().locator('button.citation');
    await expect.poll(() => citation.count(), WORK_WAIT).toBe(1);
    const answer = assistantMessages().first();
    expect((await answer.locator('.markdown').textContent())?.trim()).toBe(CITING_ANSWER);
    expect(await citation.getAttribute('aria-label')).toBe(`Source 1: ${DOORS}`);
    expect((await answer.getByTestId('message-source').textContent())?.trim()).toBe(`[1] ${DOORS}`);
    expect(await answer.getByTestId('dropped-sources').count()).toBe(0);

    // Following the citation by keyboard opens its chunk, under its heading, and focus goes there.
    await citation.focus();
    await page.keyboard.press('Enter');
    const viewer = page.getByTestId('chunk-viewer');
    await expect.poll(() => active(page).then((a) => a.testid), UI_WAIT).toBe('chunk-viewer');
    expect(await viewer.locator('h2').textContent()).toBe(DOORS);
    expect(await viewer.locator('mark').textContent()).toBe(DOORS_CHUNK);
    await viewer.getByRole('button', { name: 'Close' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => active(page).then((a) => a.label), UI_WAIT).toBe(`Source 1: ${DOORS}`);
    expect(await viewer.count()).toBe(0);

    expect(leaked()).toEqual([]);
  }, 300_000);

  it('keeps the attachment and the citations across a reload, and answers from them offline', async () => {
    await browser.context.setOffline(true);
    try {
      await page.reload();
      await expect
        .poll(() => page.getByTestId('attached-document').textContent(), UI_WAIT)
        .toMatch(/^\s*handbook\.md/);
      const citations = assistantMessages().locator('button.citation');
      expect(await citations.getAttribute('aria-label')).toBe(`Source 1: ${DOORS}`);
      await page.locator('#chat-input').fill('Which door has the code 7351?');
      await page.locator('#chat-input').press('Enter');
      await expect.poll(() => citations.count(), WORK_WAIT).toBe(2);
      expect(await citations.nth(1).getAttribute('aria-label')).toBe(`Source 1: ${DOORS}`);
    } finally {
      await browser.context.setOffline(false);
    }
  }, 300_000);

  it('in search-only mode lists the matching chunks without generating', async () => {
    requests.length = 0;
    await page.getByLabel('Search only').focus();
    await page.keyboard.press('Space');
    expect(await page.getByLabel('Search only').isChecked()).toBe(true);
    await page.locator('#chat-input').fill('reset code blue door');
    await page.locator('#chat-input').press('Enter');
    await expect.poll(() => assistantMessages().count(), WORK_WAIT).toBe(3);
    const reply = assistantMessages().nth(2);
    await expect
      .poll(() => reply.locator('.searched').textContent(), UI_WAIT)
      .toBe('Matching chunks (search only, nothing generated):');
    const first = reply.getByTestId('message-source').first();
    expect(await first.textContent()).toBe(`[1] ${DOORS} ${DOORS_CHUNK}`);
    expect(await reply.locator('.markdown').count()).toBe(0);
    expect(await reply.locator('.stats').count()).toBe(0);
    await first.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => active(page).then((a) => a.testid), UI_WAIT).toBe('chunk-viewer');
    expect(leaked()).toEqual([]);
  }, 300_000);

  it('at 390 px wide nothing overflows, axe finds nothing, and detaching by keyboard moves focus to the attach button', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      // Citations, sources, the chunk viewer and the open picker on screen together.
      await page.getByRole('button', { name: 'Attach documents' }).click();
      await expect.poll(() => page.locator('#attach-picker').count(), UI_WAIT).toBe(1);
      expect(await page.getByTestId('chunk-viewer').count()).toBe(1);
      expect(await axeViolations(page)).toEqual([]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        390,
      );
      await page.keyboard.press('Escape');
      await expect.poll(() => page.locator('#attach-picker').count(), UI_WAIT).toBe(0);
      await page.getByRole('button', { name: 'Detach handbook.md' }).focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => page.getByTestId('attached-document').count(), UI_WAIT).toBe(0);
      await expect.poll(() => active(page).then((a) => a.text), UI_WAIT).toBe('Attach documents');
      expect(await page.getByLabel('Search only').count()).toBe(0);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        390,
      );
    } finally {
      await page.setViewportSize({ width: 1280, height: 720 });
    }
  }, 120_000);
});
