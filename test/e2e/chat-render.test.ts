// The chat's message list in headless Chromium with a scripted engine: streaming cost per token
// (DOM nodes replaced, not milliseconds), a long history windowed, Markdown bombs shown as plain
// text, and a message that fails to render kept inside its own card.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredMessage } from '../../src/store/conversations';
import { MESSAGE_WINDOW } from '../../src/app/chat/message-window';
import { launchBrowser, type Browser } from './browser';
import type { ChatPageApi } from './chat-page/main';

let outDir: string;
let server: PreviewServer;
let browser: Browser;

beforeAll(async () => {
  const root = resolve(import.meta.dirname, 'chat-page');
  outDir = await mkdtemp(join(tmpdir(), 'layerwise-chat-page-'));
  await build({
    root,
    base: './',
    configFile: false,
    logLevel: 'warn',
    plugins: [svelte({ configFile: resolve(import.meta.dirname, '../../svelte.config.js') })],
    build: { outDir, emptyOutDir: true, target: 'es2022' },
  });
  server = await preview({
    root,
    configFile: false,
    logLevel: 'warn',
    build: { outDir },
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
  });
  browser = await launchBrowser({ webgpu: false });
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

async function openPage(messages: number | StoredMessage[]): Promise<Page> {
  const page = await browser.context.newPage();
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(server.resolvedUrls!.local[0]);
  await page.waitForFunction(() => 'chatPage' in window);
  await page.evaluate(
    (m) => (window as unknown as { chatPage: ChatPageApi }).chatPage.open(m),
    messages,
  );
  return page;
}

/** An answer of short paragraphs and lists, cut into model-sized tokens. */
function answerTokens(count: number): string[] {
  const tokens: string[] = [];
  for (let i = 0; tokens.length < count; i++) {
    if (i % 5 === 4) tokens.push('\n\n- one', '\n- two', '\n- *three*', '\n\n');
    else tokens.push(...`Sentence ${i} has **bold** words in it.`.split(/(?= )/), '\n\n');
  }
  return tokens.slice(0, count);
}

describe('streaming render cost', () => {
  it('replaces a bounded number of DOM nodes per token while 4,000 tokens stream into a 120-message conversation', async () => {
    const page = await openPage(120);
    expect(await page.locator('article.message').count()).toBe(MESSAGE_WINDOW);
    await page.evaluate(() => {
      const w = window as unknown as {
        chatPage: ChatPageApi;
        replacedPerToken: Record<number, number>;
        outside: number;
      };
      w.replacedPerToken = {};
      w.outside = 0;
      // A removed node counts with everything inside it: that is what the browser rebuilds.
      const size = (node: Node): number =>
        node instanceof Element ? 1 + node.getElementsByTagName('*').length : 1;
      new MutationObserver((records) => {
        const live = document.querySelector('article.streaming');
        const token = w.chatPage.streamedTokens();
        if (!live || token === 0) return;
        for (const r of records) {
          if (!live.contains(r.target)) w.outside += 1;
          let replaced = r.type === 'characterData' ? 1 : 0;
          r.removedNodes.forEach((n) => (replaced += size(n)));
          w.replacedPerToken[token] = (w.replacedPerToken[token] ?? 0) + replaced;
        }
      }).observe(document.querySelector('.messages')!, {
        subtree: true,
        childList: true,
        characterData: true,
      });
    });
    const tokens = answerTokens(4_000);
    await page.evaluate(
      (t) => (window as unknown as { chatPage: ChatPageApi }).chatPage.send('one more', t),
      tokens,
    );
    const { perToken, outside } = await page.evaluate(() => {
      const w = window as unknown as { replacedPerToken: Record<number, number>; outside: number };
      return { perToken: Object.values(w.replacedPerToken), outside: w.outside };
    });
    const answer = page.locator('article.message.assistant').last();
    const blocks = await answer.locator('.markdown > *').count();
    // The answer ends with hundreds of blocks; re-rendering it whole per token would replace them all.
    expect(blocks).toBeGreaterThan(500);
    expect(perToken.length).toBeGreaterThan(3_900);
    expect(Math.max(...perToken)).toBeLessThanOrEqual(24);
    expect(outside).toBe(0);
    expect(await answer.locator('.markdown').textContent()).toContain('Sentence 0 has bold words');
    await page.close();
  });
});

describe('long histories and hostile answers', () => {
  it('shows the newest messages of 5,000 at once and the rest on request', async () => {
    const page = await openPage(5_000);
    const articles = page.locator('article.message');
    expect(await articles.count()).toBe(MESSAGE_WINDOW);
    expect(await articles.last().getAttribute('data-message-id')).toBe('m4999');
    const earlier = page.getByRole('button', { name: /Show earlier messages \(4940 not shown\)/ });
    await earlier.click();
    await expect.poll(() => articles.count()).toBe(2 * MESSAGE_WINDOW);
    // Focus stays where reading left off: the oldest message that was already on screen.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-path-index'))).toBe(
      String(5_000 - MESSAGE_WINDOW),
    );
    await page.close();
  });

  it('renders Markdown bombs as plain text and keeps the conversation around them', async () => {
    const bombs = [
      `${'>'.repeat(2_000)} quoted`,
      `${'*'.repeat(50_000)}a${'*'.repeat(50_000)}`,
      '_a'.repeat(100_000),
      '| a | b |\n|---|---|\n' + '| xx | yy |\n'.repeat(30_000),
      Array.from({ length: 300 }, (_, i) => `${'  '.repeat(i)}- level ${i}`).join('\n'),
    ];
    const messages: StoredMessage[] = [];
    bombs.forEach((content, i) => {
      messages.push({
        id: `q${i}`,
        parentId: i ? `a${i - 1}` : null,
        role: 'user',
        content: `question ${i}`,
        createdAt: 2 * i,
      });
      messages.push({
        id: `a${i}`,
        parentId: `q${i}`,
        role: 'assistant',
        content,
        createdAt: 2 * i + 1,
      });
    });
    messages.push({
      id: 'last',
      parentId: `a${bombs.length - 1}`,
      role: 'assistant',
      content: 'A **normal** answer.',
      createdAt: 99,
    });
    const page = await openPage(messages);
    const answers = page.locator('article.message.assistant');
    expect(await answers.count()).toBe(bombs.length + 1);
    for (let i = 0; i < bombs.length; i++) {
      const answer = answers.nth(i);
      expect(await answer.locator('.plain-note').textContent()).toMatch(/^Shown as plain text: /);
      expect(await answer.locator('.plain-text').count()).toBe(1);
    }
    expect(await answers.last().locator('.markdown strong').textContent()).toBe('normal');
    await page.close();
  });

  it('keeps a message that fails to render inside its own card', async () => {
    const broken = {
      id: 'b',
      parentId: 'q',
      role: 'assistant',
      content: 'stats from a damaged file',
      createdAt: 2,
      stats: { promptTokens: 1, generatedTokens: 1, tokensPerSecond: '7', stopReason: 'eos' },
    } as unknown as StoredMessage;
    const page = await openPage([
      { id: 'q', parentId: null, role: 'user', content: 'first question', createdAt: 1 },
      broken,
      { id: 'q2', parentId: 'b', role: 'user', content: 'second question', createdAt: 3 },
      { id: 'a2', parentId: 'q2', role: 'assistant', content: 'a **fine** answer', createdAt: 4 },
    ]);
    expect(await page.locator('article.message.broken').textContent()).toMatch(
      /This message could not be shown \(.+\)/,
    );
    expect(await page.locator('article.message.user').allTextContents()).toEqual([
      expect.stringContaining('first question'),
      expect.stringContaining('second question'),
    ]);
    expect(await page.locator('article.message.assistant .markdown strong').textContent()).toBe(
      'fine',
    );
    await page.close();
  });
});
