// The Chat view in headless Chromium on SwiftShader with a fixture GGUF served by the local test
// server: streaming, stop, regenerate, export/import, inert Markdown, no network during a turn,
// and a reload that keeps the conversation and the model.
import { readFileSync } from 'node:fs';
import type { Page, Request } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ensureFixture } from '../fixtures/gguf/ensure';
import { GREEDY } from '../../src/engine/engine';
import { exportJson, type Conversation, type StoredMessage } from '../../src/store/conversations';
import { useAppSession } from './app-session';
import { saveSettings, untilServiceWorkerControls } from './page-state';
import { nodeGreedy } from './worker-node-engine';

const FIXTURE = 'llama-spm-f16';
/** How long the page may take to show what it already has, on a busy two-core machine. */
const UI_WAIT = { timeout: 15_000 };
const SESSION_KEY = 'layerwise:session-model';

const session = useAppSession({ fixture: FIXTURE });

/** An export file around a conversation built by a test, with the fields every one shares. */
function exportFile(
  conversation: Pick<Conversation, 'id' | 'title' | 'messages' | 'currentLeaf' | 'maxTokens'>,
): Buffer {
  const full: Conversation = {
    systemPrompt: '',
    sampling: GREEDY,
    modelId: null,
    createdAt: 1,
    updatedAt: 2,
    ...conversation,
  };
  return Buffer.from(exportJson(full));
}

function watchErrors(page: Page): Error[] {
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  return errors;
}

/** The fixture chosen without a plan (the session plans it), and the context Settings asks for. */
function fixtureChoice(contextTokens = 256) {
  return {
    choice: {
      kind: 'gguf',
      id: FIXTURE,
      label: `${FIXTURE}.gguf`,
      source: { type: 'url', url: session.modelUrl },
    },
    // The GPU engine, whose greedy tokens the tests compare with the engine run in Node; on a
    // software adapter the planner's own pick would be the CPU engine.
    settings: { contextLength: contextTokens, engine: 'gpu' },
  };
}

/** Opens the chat with a model chosen, as the Models view would choose it. */
async function openChat(
  { choice, settings }: { choice: object; settings?: object } = fixtureChoice(),
  page?: Page,
): Promise<Page> {
  page ??= await session.browser.context.newPage();
  await page.goto(`${session.app.url}#/hardware`);
  if (settings) await saveSettings(page, settings);
  await page.evaluate(([key, value]) => localStorage.setItem(key, value), [
    SESSION_KEY,
    JSON.stringify(choice),
  ] as const);
  // A hash change keeps the document: reload so the session reads the stored choice.
  await page.goto(`${session.app.url}#/chat`);
  await page.reload();
  await page.locator('button.new').click();
  await expect.poll(() => page.url(), UI_WAIT).toMatch(/#\/chat\/[\w-]+$/);
  return page;
}

async function loadModel(page: Page, contextTokens = 256): Promise<void> {
  await page.getByRole('button', { name: 'Load now' }).click();
  await expect
    .poll(() => page.locator('.model-bar .ready').textContent(), { timeout: 120_000 })
    .toBe(`loaded · ${contextTokens.toLocaleString('en-US')}-token context`);
}

async function setMaxTokens(page: Page, tokens: number): Promise<void> {
  await page.locator('summary', { hasText: 'System prompt and sampling' }).click();
  const field = page.getByLabel('Longest answer (tokens)');
  await field.fill(String(tokens));
  await field.dispatchEvent('change');
  await page.locator('summary', { hasText: 'System prompt and sampling' }).click();
}

async function send(page: Page, text: string): Promise<void> {
  const input = page.locator('#chat-input');
  await input.fill(text);
  await input.press('Enter');
}

const answers = (page: Page) => page.locator('article.message.assistant:not(.streaming)');

/** Waits until no answer is streaming and `count` answers are on screen. */
async function waitForAnswer(page: Page, count: number): Promise<void> {
  const settled = async () =>
    (await page.locator('article.streaming').count()) === 0 && (await answers(page).count());
  await expect.poll(settled, { timeout: 120_000 }).toBe(count);
}

describe('chat flow', () => {
  it('streams an answer with stats, makes no network request during the turn, and keeps all on reload', async () => {
    const page = await openChat();
    const errors = watchErrors(page);
    await loadModel(page);
    await setMaxTokens(page, 12);
    const requests: Request[] = [];
    page.on('request', (r) => requests.push(r));
    await send(page, 'Hello there');
    await waitForAnswer(page, 1);
    page.removeAllListeners('request');
    expect(requests.map((r) => r.url())).toEqual([]);

    const answer = answers(page).first();
    await expect
      .poll(() => answer.locator('.token-count').textContent(), UI_WAIT)
      .toBe('12 tokens');
    // The same conversation through the engine in Node gives the same greedy answer; a new
    // conversation sends no system prompt of its own.
    const expected = await nodeGreedy(
      ensureFixture(FIXTURE),
      [{ role: 'user', content: 'Hello there' }],
      12,
      256,
    );
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export JSON' }).click(),
    ]);
    const stored = JSON.parse(readFileSync((await download.path())!, 'utf8')).conversation;
    const storedAnswer = Object.values(stored.messages as Record<string, StoredMessage>).find(
      (m) => m.role === 'assistant',
    );
    expect(storedAnswer?.content).toBe(expected.text);
    expect(await answer.locator('.stop-reason').textContent()).toBe(
      'reached the answer length limit',
    );
    const text = await answer.locator('.markdown').innerText();
    expect(text.length).toBeGreaterThan(0);

    const url = page.url();
    await page.reload();
    await expect
      .poll(() => page.locator('article.message.user').first().textContent(), UI_WAIT)
      .toContain('Hello there');
    expect(page.url()).toBe(url);
    // The answer renders after the user's message: wait for it rather than read it once.
    await expect
      .poll(() => answers(page).first().locator('.markdown').innerText(), UI_WAIT)
      .toBe(text);
    expect(await page.locator('.model-bar .model-name').textContent()).toBe(`${FIXTURE}.gguf`);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('stops on Esc leaving a partial answer marked stopped, and regenerates into a sibling branch', async () => {
    // The fixture's whole context (256 tokens): the engine caps the answer at the room left, which
    // keeps it running when Esc arrives, even on a fast machine.
    const page = await openChat();
    await loadModel(page);
    await setMaxTokens(page, 900);
    await send(page, 'Tell me a long story');
    const streaming = page.locator('article.streaming .live');
    await expect
      .poll(async () => Number((await streaming.textContent())?.match(/\d+/)?.[0] ?? 0), {
        timeout: 60_000,
      })
      .toBeGreaterThanOrEqual(3);
    await page.keyboard.press('Escape');
    await waitForAnswer(page, 1);
    const stopped = answers(page).first();
    expect(await stopped.locator('.stop-reason').textContent()).toBe('stopped');
    const generated = Number(
      (await stopped.locator('.token-count').textContent())?.match(/\d+/)?.[0],
    );
    expect(generated).toBeGreaterThanOrEqual(3);
    expect(generated).toBeLessThan(900);
    expect(await stopped.evaluate((el) => el.classList.contains('stopped'))).toBe(true);

    await setMaxTokens(page, 6);
    await stopped.getByRole('button', { name: 'Regenerate' }).click();
    await waitForAnswer(page, 1);
    const regenerated = answers(page).first();
    expect(await regenerated.locator('.branch-position').textContent()).toBe('2/2');
    expect(await regenerated.locator('.stop-reason').textContent()).toBe(
      'reached the answer length limit',
    );
    await regenerated.getByRole('button', { name: 'Previous version' }).click();
    await expect
      .poll(() => answers(page).first().locator('.branch-position').textContent(), UI_WAIT)
      .toBe('1/2');
    expect(await answers(page).first().locator('.stop-reason').textContent()).toBe('stopped');
    await page.close();
  });
});

describe('editing and long conversations', () => {
  it('keeps Shift+Enter as a newline, resends an edited question as a branch, and says what no longer fits', async () => {
    const page = await openChat(fixtureChoice(160));
    await loadModel(page, 160);
    await setMaxTokens(page, 8);
    const input = page.locator('#chat-input');
    await input.fill('first line');
    await input.press('Shift+Enter');
    await input.pressSequentially('second line');
    expect(await input.inputValue()).toBe('first line\nsecond line');
    expect(await page.locator('article.message').count()).toBe(0);
    await input.press('Enter');
    await waitForAnswer(page, 1);
    expect(await page.locator('article.message.user .user-text').innerText()).toBe(
      'first line\nsecond line',
    );

    const question = page.locator('article.message.user').first();
    await question.getByRole('button', { name: 'Edit' }).click();
    await question.getByLabel('Edit your message').fill('an edited question');
    await question.getByRole('button', { name: 'Send edited' }).click();
    await waitForAnswer(page, 1);
    const edited = page.locator('article.message.user').first();
    expect(await edited.locator('.user-text').innerText()).toBe('an edited question');
    expect(await edited.locator('.branch-position').textContent()).toBe('2/2');
    await edited.getByRole('button', { name: 'Previous version' }).click();
    await expect
      .poll(() => page.locator('article.message.user .user-text').first().innerText(), UI_WAIT)
      .toBe('first line\nsecond line');

    // This vocabulary spends a token on almost every letter, so each of these takes about a third
    // of the 160-token context: the oldest turns must go.
    const long = 'tell me about the quick brown fox and the lazy dog in the sun';
    for (let i = 0; i < 3; i++) {
      await send(page, `${long} ${i}`);
      await waitForAnswer(page, i + 2);
    }
    const notice = page.locator('.conversation .notice.warning');
    expect(await notice.textContent()).toMatch(
      /Left out \d+ earlier messages? \(from "first line second line.*160-token context; the system prompt was kept\./,
    );
    const last = answers(page).last();
    expect(await last.locator('.stats').textContent()).toMatch(/\d+ earlier messages? left out/);
    await page.close();
  });
});

describe('an answer outlives the Chat view', () => {
  it('keeps streaming while another view is open and starts no second answer on return', async () => {
    // The fixture's whole context: the answer runs long enough to leave and come back.
    const page = await openChat();
    const errors = watchErrors(page);
    await loadModel(page);
    await setMaxTokens(page, 900);
    await send(page, 'Tell me a long story');
    const live = page.locator('article.streaming .live');
    const streamed = async () => Number((await live.textContent())?.match(/\d+/)?.[0] ?? 0);
    await expect.poll(streamed, { timeout: 60_000 }).toBeGreaterThanOrEqual(2);

    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Hardware' }).click();
    await expect
      .poll(() => page.locator('main h1').first().textContent(), UI_WAIT)
      .toBe('Hardware');
    await nav.getByRole('link', { name: 'Chat' }).click();
    // The same answer is on screen and still growing; the composer offers Stop, not Send.
    await expect.poll(() => live.count(), UI_WAIT).toBe(1);
    const seen = await streamed();
    await expect.poll(streamed, { timeout: 60_000 }).toBeGreaterThan(seen);
    expect(await page.getByRole('button', { name: 'Send', exact: true }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Stop' }).count()).toBe(1);
    const input = page.locator('#chat-input');
    await input.fill('a second question while the first is answered');
    await input.press('Enter');
    expect(await input.inputValue()).toBe('a second question while the first is answered');

    await page.keyboard.press('Escape');
    await waitForAnswer(page, 1);
    expect(await page.locator('article.message.user').count()).toBe(1);
    expect(await answers(page).first().locator('.stop-reason').textContent()).toBe('stopped');
    expect(await page.locator('.conversation .notice.error').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('load errors', () => {
  it("explains an f16 request on a GPU without shader-f16 in the app's terms, not a CLI flag", async () => {
    const chosen = fixtureChoice();
    const page = await openChat({
      ...chosen,
      settings: { ...chosen.settings, computePrecision: 'f16' },
    });
    await page.getByRole('button', { name: 'Load now' }).click();
    const error = page.locator('.model-bar .error-text');
    await expect.poll(() => error.count(), { timeout: 60_000 }).toBe(1);
    const text = await error.textContent();
    expect(text).toMatch(/lacks shader-f16; choose f32 or automatic compute precision/);
    expect(text).not.toContain('--f16');
    await page.close();
  });
});

describe('offline', () => {
  it('chats with a stored model after an offline reload', async () => {
    const page = await session.browser.context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${session.app.url}#/storage`);
    // The GPU engine at the fixture's context, whatever the tests before left in Settings.
    await saveSettings(page, fixtureChoice().settings);
    await page.reload();
    await page.getByLabel('GGUF file URL').fill(session.modelUrl);
    await page.getByRole('button', { name: 'Download', exact: true }).click();
    const row = page.locator(`tr[data-state="complete"]`, { hasText: `${FIXTURE}.gguf` });
    await expect.poll(() => row.count(), { timeout: 60_000 }).toBe(1);

    await page.goto(`${session.app.url}#/chat`);
    await page.reload();
    await page.locator('button.new').click();
    const picker = page.getByLabel('Model', { exact: true });
    // The stored copy, listed with its size, not the URL choice left by the tests before.
    const stored = picker.locator('option', { hasText: `${FIXTURE}.gguf (` });
    await expect.poll(() => stored.count(), UI_WAIT).toBe(1);
    await picker.selectOption((await stored.getAttribute('value'))!);
    await expect
      .poll(() => page.locator('.model-bar .ready').count(), { timeout: 120_000 })
      .toBe(1);
    await setMaxTokens(page, 4);
    await send(page, 'Before going offline');
    await waitForAnswer(page, 1);

    // The first visit installs the service worker; once it controls the page, the shell is cached.
    await untilServiceWorkerControls(page);

    await session.browser.context.setOffline(true);
    try {
      await page.reload();
      await expect
        .poll(() => page.locator('article.message.user').first().textContent(), UI_WAIT)
        .toContain('Before going offline');
      await send(page, 'And now offline');
      await waitForAnswer(page, 2);
      const last = answers(page).nth(1);
      expect(await last.locator('.stop-reason').textContent()).toBe(
        'reached the answer length limit',
      );
    } finally {
      await session.browser.context.setOffline(false);
    }
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('WebLLM path', () => {
  it('fetches WebLLM only once an MLC model is loaded, and explains a failed load', async () => {
    const page = await session.browser.context.newPage();
    const scripts: string[] = [];
    page.on('request', (r) => scripts.push(new URL(r.url()).pathname));
    await openChat(fixtureChoice(), page);
    await loadModel(page);
    // Listing the Storage view's models does not fetch WebLLM before it has ever been used.
    await page.goto(`${session.app.url}#/storage`);
    await expect.poll(() => page.locator('#models-heading').count(), UI_WAIT).toBe(1);
    await page.waitForTimeout(500);
    expect(scripts.filter((p) => /webllm-|mlc\.worker-/.test(p))).toEqual([]);

    await openChat(
      {
        choice: {
          kind: 'webllm',
          id: 'SmolLM2-360M-Instruct-q4f32_1-MLC',
          label: 'SmolLM2 360M (MLC)',
          modelId: 'SmolLM2-360M-Instruct-q4f32_1-MLC',
          contextWindowSize: 1024,
        },
      },
      page,
    );
    expect(scripts.filter((p) => /webllm-|mlc\.worker-/.test(p))).toEqual([]);
    await page.getByRole('button', { name: 'Load now' }).click();
    const error = page.locator('.model-bar .error-text');
    await expect.poll(() => error.count(), { timeout: 60_000 }).toBe(1);
    expect(scripts.filter((p) => /webllm-/.test(p))).toHaveLength(1);
    expect(scripts.filter((p) => /mlc\.worker-/.test(p))).toHaveLength(1);
    expect(await error.textContent()).toMatch(/download failed|network/i);
    await page.close();
  });
});

describe('conversation files and untrusted output', () => {
  it('exports JSON and imports it back exactly', async () => {
    const page = await openChat();
    await loadModel(page);
    await setMaxTokens(page, 5);
    await send(page, 'First question');
    await waitForAnswer(page, 1);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export JSON' }).click(),
    ]);
    const exported = readFileSync((await download.path())!, 'utf8');
    const original = JSON.parse(exported).conversation;
    expect(Object.keys(original.messages)).toHaveLength(2);

    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: `Delete ${original.title}` }).click();
    const listed = page.locator('nav.conversations li', { hasText: original.title });
    await expect.poll(() => listed.count(), UI_WAIT).toBe(0);

    await page.getByLabel('Import a conversation (JSON)').setInputFiles({
      name: 'conversation.json',
      mimeType: 'application/json',
      buffer: Buffer.from(exported),
    });
    await expect.poll(() => page.url(), UI_WAIT).toContain(original.id);
    const [again] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export JSON' }).click(),
    ]);
    // The same data; the import's schema check may list a message's fields in another order.
    expect(JSON.parse(readFileSync((await again.path())!, 'utf8'))).toEqual(JSON.parse(exported));
    await page.close();
  });

  it('renders model output with an onerror image, a script and a javascript: link inert', async () => {
    const page = await openChat();
    const errors = watchErrors(page);
    const hostile =
      'Look <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> ' +
      '[click me](javascript:window.__pwned=3) and <a href="javascript:window.__pwned=4">raw</a>\n\n' +
      '```html\n<img src=x onerror="window.__pwned=5">\n```';
    await page.getByLabel('Import a conversation (JSON)').setInputFiles({
      name: 'hostile.json',
      mimeType: 'application/json',
      buffer: exportFile({
        id: 'hostile-output',
        title: 'Hostile output',
        maxTokens: 16,
        messages: {
          q: { id: 'q', parentId: null, role: 'user', content: 'Say something', createdAt: 1 },
          a: { id: 'a', parentId: 'q', role: 'assistant', content: hostile, createdAt: 2 },
        },
        currentLeaf: 'a',
      }),
    });
    const answer = answers(page).first();
    await expect.poll(() => answer.locator('.markdown').count(), UI_WAIT).toBe(1);
    const markdown = answer.locator('.markdown');
    // The answer's text first: the element can exist before its content is rendered, and the
    // checks below would pass on an empty one.
    await expect
      .poll(() => markdown.innerText(), UI_WAIT)
      .toContain('<img src=x onerror="window.__pwned=1">');
    expect(await markdown.locator('img, script, iframe').count()).toBe(0);
    expect(await markdown.locator('[onerror], [onclick]').count()).toBe(0);
    const hrefs = await markdown
      .locator('a')
      .evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    expect(hrefs.filter((h) => h && /^\s*javascript:/i.test(h))).toEqual([]);
    expect(await markdown.locator('.code-block code').innerText()).toBe(
      '<img src=x onerror="window.__pwned=5">',
    );
    await markdown.getByText('click me').click();
    await page.waitForTimeout(200);
    expect(await page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(errors).toEqual([]);
    await page.close();
  });
});
