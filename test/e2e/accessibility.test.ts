// Every view in headless Chromium checked by axe-core (its source injected into the page), at
// desktop width and at 390x844 with no horizontal overflow and the chat's message box in view, and
// keyboard focus following the chat's actions.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { GREEDY } from '../../src/engine/engine';
import { exportJson, type StoredMessage } from '../../src/store/conversations';
import { SETTINGS_BOUNDS } from '../../src/store/settings';
import { axeViolations } from './axe';
import { useAppSession } from './app-session';
import { untilSettingsSaved } from './page-state';

const VIEWS = ['chat', 'models', 'storage', 'hardware', 'settings'] as const;
const PHONE = { width: 390, height: 844 };
const UI_WAIT = { timeout: 15_000 };

const FIXTURE = 'llama-spm-f16';

const session = useAppSession({ fixture: FIXTURE });

/** Stores the fixture model, so the Storage view has a row to lay out. */
async function storeModel(page: Page): Promise<void> {
  await page.getByLabel('GGUF file URL').fill(session.modelUrl);
  await page.getByRole('button', { name: 'Download', exact: true }).click();
  const row = page.locator('tr[data-state="complete"]', { hasText: `${FIXTURE}.gguf` });
  await expect.poll(() => row.count(), { timeout: 60_000 }).toBe(1);
}

/** A conversation that exercises the layout: a table, a code block, long unbroken output, branches. */
function sampleConversation(id: string, turns = 6): Buffer {
  const messages: Record<string, StoredMessage> = {};
  let parentId: string | null = null;
  const answer = [
    'Here is a table:\n\n| Model | Parameters | Context | Quantization | Notes |\n|---|---|---|---|---|\n' +
      '| Llama 3.2 1B Instruct | 1.24 billion | 131072 tokens | Q4_K_M | small and fast on most laptops |\n',
    '```python\nprint("a fairly long line of code that goes on and on past the edge of a phone screen")\n```',
    `Unbroken: ${'x'.repeat(600)}`,
  ];
  for (let i = 0; i < turns; i++) {
    const role = i % 2 === 0 ? 'user' : 'assistant';
    const content = role === 'user' ? `Question ${i}` : answer[(i >> 1) % answer.length];
    messages[`${id}-${i}`] = { id: `${id}-${i}`, parentId, role, content, createdAt: i };
    parentId = `${id}-${i}`;
  }
  // A second version of the last answer, so the branch arrows show.
  messages[`${id}-alt`] = {
    id: `${id}-alt`,
    parentId: `${id}-${turns - 2}`,
    role: 'assistant',
    content: 'Another version of the answer.',
    createdAt: turns,
  };
  return Buffer.from(
    exportJson({
      id,
      title: `Layout sample ${id}`,
      systemPrompt: null,
      sampling: GREEDY,
      maxTokens: 64,
      modelId: null,
      messages,
      currentLeaf: `${id}-alt`,
      createdAt: 1,
      updatedAt: 2,
    }),
  );
}

async function importConversation(page: Page, id: string, turns?: number): Promise<void> {
  if (!(await page.getByLabel('Import a conversation (JSON)').count())) return;
  await page.getByLabel('Import a conversation (JSON)').setInputFiles({
    name: `${id}.json`,
    mimeType: 'application/json',
    buffer: sampleConversation(id, turns),
  });
  await expect.poll(() => page.url(), UI_WAIT).toContain(id);
}

async function openView(page: Page, view: string): Promise<void> {
  await page.goto(`${session.app.url}#/${view}`);
  await expect.poll(() => page.locator('main h1').count(), UI_WAIT).toBeGreaterThan(0);
}

/** Elements whose right edge passes the window's, outside any container that scrolls sideways. */
async function horizontalOverflow(page: Page): Promise<{ page: number; elements: string[] }> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const elements: string[] = [];
    for (const el of document.querySelectorAll('body *')) {
      const rect = el.getBoundingClientRect();
      if (rect.width === 0 || rect.right <= width + 1) continue;
      let clipped = false;
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const overflowX = getComputedStyle(p).overflowX;
        if (overflowX !== 'visible' && p.getBoundingClientRect().right <= width + 1) clipped = true;
      }
      if (!clipped) {
        elements.push(
          `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} ${Math.round(rect.right)}`,
        );
      }
    }
    return { page: document.documentElement.scrollWidth - width, elements };
  });
}

/** axe-core at desktop width and at 390x844, and no sideways overflow at 390 px. */
async function checkView(view: string, prepare?: (page: Page) => Promise<void>): Promise<void> {
  const page = await session.browser.context.newPage();
  await openView(page, view);
  await prepare?.(page);
  await page.waitForTimeout(300);
  const desktop = await axeViolations(page);
  expect(desktop, `${view} at desktop width: ${desktop.join('\n')}`).toEqual([]);

  await page.setViewportSize(PHONE);
  await openView(page, view);
  await page.waitForTimeout(300);
  const phone = await axeViolations(page);
  expect(phone, `${view} at 390 px: ${phone.join('\n')}`).toEqual([]);
  const overflow = await horizontalOverflow(page);
  expect(overflow, `${view}: ${overflow.elements.join(', ')}`).toEqual({ page: 0, elements: [] });
  await page.close();
}

describe('every view', () => {
  const prepare: Partial<Record<string, (page: Page) => Promise<void>>> = {
    chat: (page) => importConversation(page, 'axe-chat'),
    storage: storeModel,
  };
  for (const view of VIEWS) {
    it(`${view}: no axe-core violations at desktop width or at 390 px, and nothing overflows sideways at 390 px`, async () => {
      await checkView(view, prepare[view]);
    });
  }

  it('checks every other view in the navigation the same way', async () => {
    const page = await session.browser.context.newPage();
    await openView(page, 'hardware');
    const hrefs = await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link')
      .evaluateAll((links) => links.map((a) => a.getAttribute('href') ?? ''));
    await page.close();
    const listed = hrefs.map((href) => href.replace(/^#\//, ''));
    expect(listed).toEqual(expect.arrayContaining([...VIEWS]));
    for (const view of listed.filter((v) => !(VIEWS as readonly string[]).includes(v))) {
      await checkView(view);
    }
  });
});

describe('what the Hardware and Models views say', () => {
  it('separates feature names and writes the storage line as a sentence', async () => {
    const page = await session.browser.context.newPage();
    await openView(page, 'hardware');
    const storage = page.getByTestId('storage-quota');
    await expect.poll(() => storage.count(), UI_WAIT).toBe(1);
    const line = (await storage.textContent())!.replace(/\s+/g, ' ').trim();
    expect(line).toMatch(/^[\d.]+ \w+ allowed, [\d.]+ \w+ used — from navigator/);
    const features = page.locator('.feature-list li');
    expect(await features.count()).toBeGreaterThan(1);
    for (const text of await features.allTextContents()) expect(text.trim()).toMatch(/^[\w-]+$/);
    await page.close();
  });

  it('shows no zero rates and no empty KV figure for WebLLM models, and no slow model in green', async () => {
    const page = await session.browser.context.newPage();
    await openView(page, 'models');
    const cards = page.locator('[data-testid^="webllm-"]');
    await expect.poll(() => cards.locator('.verdict').count(), UI_WAIT).toBeGreaterThan(0);
    const texts = (await cards.allTextContents()).join('\n');
    expect(texts).not.toMatch(/roughly 0 tok\/s|KV 0 bytes/);
    const slowInGreen = await cards.evaluateAll(
      (all) =>
        all.filter((card) => {
          const rate = card.querySelector('.verdict .muted')?.textContent ?? '';
          const perSecond = Number(rate.match(/([\d.]+) tok\/s/)?.[1] ?? Infinity);
          return (
            card.querySelector('.verdict.full') !== null && (perSecond < 1 || /under/.test(rate))
          );
        }).length,
    );
    expect(slowInGreen).toBe(0);
    await page.close();
  });
});

describe('the Chat view at 390x844', () => {
  it('keeps the message box in view, puts the conversation list in a drawer and reflows tables', async () => {
    const page = await session.browser.context.newPage();
    await page.setViewportSize(PHONE);
    await openView(page, 'chat');
    await page.getByRole('button', { name: 'Conversations', exact: true }).click();
    await importConversation(page, 'phone', 40);
    const input = page.locator('#chat-input');
    const inView = async () => {
      const box = await input.boundingBox();
      return !!box && box.y >= 0 && box.y + box.height <= PHONE.height;
    };
    expect(await inView()).toBe(true);
    await page.mouse.wheel(0, -100_000);
    expect(await inView()).toBe(true);
    expect(await horizontalOverflow(page)).toEqual({ page: 0, elements: [] });
    // Long unbroken output stays inside its card.
    const card = page.locator('article.message', { hasText: 'Unbroken:' }).first();
    await card.scrollIntoViewIfNeeded();
    const inside = await card.evaluate((el) => el.scrollWidth <= el.clientWidth);
    expect(inside).toBe(true);

    // The list is a drawer: hidden until asked for, opened by keyboard, closed by Escape.
    const drawerToggle = page.getByRole('button', { name: 'Conversations', exact: true });
    expect(await page.locator('button.new').isVisible()).toBe(false);
    await drawerToggle.focus();
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.evaluate(() => document.activeElement?.textContent))
      .toBe('New conversation');
    expect(await drawerToggle.getAttribute('aria-expanded')).toBe('true');
    await page.keyboard.press('Escape');
    await expect
      .poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-controls')))
      .toBe('conversation-drawer');
    expect(await page.locator('button.new').isVisible()).toBe(false);
    await page.close();
  });
});

const activeElement = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return (
      el &&
      `${el.tagName.toLowerCase()}|${el.id || el.getAttribute('aria-label') || el.textContent?.trim()}`
    );
  });

describe('keyboard focus in the chat', () => {
  it('follows New conversation, Rename, Edit, versions, Regenerate and the skip shortcuts', async () => {
    const page = await session.browser.context.newPage();
    await openView(page, 'chat');
    await importConversation(page, 'focus');

    await page.locator('button.new').press('Enter');
    await expect.poll(() => activeElement(page), UI_WAIT).toBe('textarea|chat-input');

    const title = 'Layout sample focus';
    await page.getByRole('button', { name: `Rename ${title}` }).press('Enter');
    await expect.poll(() => activeElement(page)).toBe('input|New title');
    await page.keyboard.type(' renamed');
    await page.keyboard.press('Enter');
    await expect.poll(() => activeElement(page)).toBe(`button|${title} renamed`);
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.locator('main h1').textContent(), UI_WAIT)
      .toBe(`${title} renamed`);

    const question = page.locator('article.message.user').last();
    await question.getByRole('button', { name: 'Edit' }).press('Enter');
    await expect.poll(() => activeElement(page)).toBe('textarea|Edit your message');
    await page.keyboard.press('Escape');
    await expect.poll(() => activeElement(page)).toBe('button|Edit');

    const answer = page.locator('article.message.assistant').last();
    await answer.getByRole('button', { name: 'Previous version' }).press('Enter');
    await expect
      .poll(() =>
        page.locator('article.message.assistant').last().locator('.branch-position').textContent(),
      )
      .toBe('1/2');
    await expect.poll(() => activeElement(page)).toBe('button|Next version');
    await page.keyboard.press('Enter');
    await expect.poll(() => activeElement(page)).toBe('button|Previous version');

    await page
      .locator('article.message.assistant')
      .last()
      .getByRole('button', { name: 'Regenerate' })
      .press('Enter');
    await expect.poll(() => activeElement(page)).toBe('textarea|chat-input');

    // "/" from anywhere outside a text field, and the skip link, reach the message box.
    await page.locator('main h1').click();
    await page.keyboard.press('/');
    await expect.poll(() => activeElement(page)).toBe('textarea|chat-input');
    expect(await page.locator('#chat-input').inputValue()).toBe('');
    await page.goto(`${session.app.url}#/chat`);
    await page.reload();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    expect(await activeElement(page)).toBe('a|Skip to message box');
    await page.keyboard.press('Enter');
    await expect.poll(() => activeElement(page)).toBe('textarea|chat-input');
    await page.close();
  });

  it('opens the next conversation when the open one is deleted, and makes no pile of empty ones', async () => {
    const page = await session.browser.context.newPage();
    await openView(page, 'chat');
    await importConversation(page, 'keep');
    await importConversation(page, 'delete-me');
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: 'Delete Layout sample delete-me' }).click();
    await expect
      .poll(() => page.locator('main h1').textContent(), UI_WAIT)
      .toMatch(/^Layout sample /);
    expect(await page.locator('main h1').textContent()).not.toBe('Layout sample delete-me');
    expect(await page.locator('article.message').count()).toBeGreaterThan(0);
    await expect.poll(() => activeElement(page)).toBe('textarea|chat-input');

    const items = page.locator('nav.conversations li');
    await page.locator('button.new').click();
    const count = await items.count();
    await page.locator('button.new').click();
    await page.locator('button.new').click();
    expect(await items.count()).toBe(count);
    await page.close();
  });

  it('moves focus to the message box after "Use in chat" in the Models view', async () => {
    const page = await session.browser.context.newPage();
    await openView(page, 'models');
    const use = page
      .locator('[data-testid^="webllm-"]')
      .getByRole('button', { name: 'Use in chat' })
      .first();
    await expect.poll(() => use.isEnabled(), UI_WAIT).toBe(true);
    await use.press('Enter');
    await expect.poll(() => page.url(), UI_WAIT).toMatch(/#\/chat/);
    await expect.poll(() => activeElement(page), UI_WAIT).toBe('textarea|chat-input');
    await page.close();
  });
});

describe('settings', () => {
  it('accepts any whole number in range, says when one is out of range, and keeps the value', async () => {
    const page = await session.browser.context.newPage();
    await openView(page, 'settings');
    const budget = page.locator('#budget-override');
    await page.locator('.setting').filter({ has: budget }).getByLabel('Automatic').uncheck();
    await budget.fill('2048');
    await budget.press('Tab');
    await untilSettingsSaved(page);
    await page.reload();
    await expect.poll(() => budget.inputValue(), UI_WAIT).toBe('2048');
    const { min, max } = SETTINGS_BOUNDS.budgetOverrideMiB;
    const range = `from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')} MiB`;
    for (const outOfRange of [min - 1, max + 1, 2048.5]) {
      await budget.fill(String(outOfRange));
      await budget.press('Tab');
      expect(await page.getByRole('alert').textContent()).toBe(
        `Enter a whole number ${range}; the saved value is still 2,048 MiB.`,
      );
    }
    expect(await budget.getAttribute('aria-invalid')).toBe('true');
    await untilSettingsSaved(page);
    await page.reload();
    await expect.poll(() => budget.inputValue(), UI_WAIT).toBe('2048');
    const margin = page.locator('#memory-margin');
    await margin.fill('300');
    await margin.press('Tab');
    await untilSettingsSaved(page);
    await page.reload();
    await expect.poll(() => margin.inputValue(), UI_WAIT).toBe('300');
    await page.getByRole('button', { name: 'Reset to defaults' }).click();
    await page.close();
  });

  it('starts with no system prompt and applies the one set in Settings to conversations without their own', async () => {
    const page = await session.browser.context.newPage();
    await openView(page, 'chat');
    await page.locator('button.new').click();
    await page.locator('summary', { hasText: 'System prompt and sampling' }).click();
    expect(await page.locator('.settings .inherited').textContent()).toMatch(
      /^\s*No system prompt: the model's chat template decides/,
    );
    await openView(page, 'settings');
    await page.getByLabel('System prompt').fill('Answer in one sentence.');
    await page.getByLabel('System prompt').press('Tab');
    await openView(page, 'chat');
    await page.locator('summary', { hasText: 'System prompt and sampling' }).click();
    await expect
      .poll(() => page.locator('.settings .inherited').textContent(), UI_WAIT)
      .toContain('“Answer in one sentence.”');
    await openView(page, 'settings');
    await page.getByRole('button', { name: 'Reset to defaults' }).click();
    await page.close();
  });
});
