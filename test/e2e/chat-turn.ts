// One chat turn in the app's Chat view with a model already loaded: sets the longest answer, sends
// a message, waits for the answer to finish and returns the reply as the conversation stored it
// (through Export JSON, so the text is exact).
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

export async function chatTurn(page: Page, message: string, maxTokens: number): Promise<string> {
  await page.locator('summary', { hasText: 'System prompt and sampling' }).click();
  const field = page.getByLabel('Longest answer (tokens)');
  await field.fill(String(maxTokens));
  await field.dispatchEvent('change');
  const input = page.locator('#chat-input');
  await input.fill(message);
  await input.press('Enter');
  const answer = page.locator('article.message.assistant:not(.streaming)');
  await expect
    .poll(async () => (await page.locator('article.streaming').count()) === 0 && answer.count(), {
      timeout: 120_000,
    })
    .toBe(1);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export JSON' }).click(),
  ]);
  const stored = JSON.parse(readFileSync((await download.path())!, 'utf8')).conversation;
  const reply = Object.values(
    stored.messages as Record<string, { role: string; content: string }>,
  ).find((m) => m.role === 'assistant');
  return reply?.content ?? '';
}
