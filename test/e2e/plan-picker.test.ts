// The chat's own model picker loads through the same plan as the Models view: with a memory budget
// in Settings too small for every layer, the stored model chosen in the chat's picker is planned
// with layers streamed, and the chat's balance panel shows the plan carried out per device (the
// allocator's bytes beside the plan's, resident and streamed layers, measured beside predicted
// decode speed).
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureFixture } from '../fixtures/gguf/ensure';
import { startFixtureServer, type FixtureServer } from '../fixtures/server';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';

/** Four layers: an 8 MiB budget (7.2 MiB usable) holds one layer resident and streams three. */
const FIXTURE = 'largest-q4_k_m';
const BUDGET_MIB = 8;
const UI_WAIT = { timeout: 15_000 };

let app: AppServer;
let files: FixtureServer;
let browser: Browser;
let modelUrl: string;

beforeAll(async () => {
  files = await startFixtureServer();
  modelUrl = files.setFile(`${FIXTURE}.gguf`, readFileSync(ensureFixture(FIXTURE)));
  app = await serveBuiltApp();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await files?.close();
});

/** Saves settings where the app reads them (idb-keyval's database), before the app loads. */
async function saveSettings(page: Page, settings: object): Promise<void> {
  await page.evaluate(
    (value) =>
      new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('layerwise-settings');
        open.onupgradeneeded = () => open.result.createObjectStore('kv');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction('kv', 'readwrite');
          tx.objectStore('kv').put(value, 'settings');
          tx.oncomplete = () => (open.result.close(), resolve());
          tx.onerror = () => reject(tx.error);
        };
      }),
    settings,
  );
}

it('honours a budget that forces streaming when the model is picked in the chat', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${app.url}#/storage`);
  await saveSettings(page, {
    // The GPU engine, though the adapter is a software one (the CPU engine would be chosen).
    engine: 'gpu',
    budgetOverrideMiB: BUDGET_MIB,
    memoryMarginMiB: 0,
    contextLength: 256,
  });
  await page.reload();
  await page.getByLabel('GGUF file URL').fill(modelUrl);
  await page.getByRole('button', { name: 'Download', exact: true }).click();
  const row = page.locator(`tr[data-state="complete"]`, { hasText: `${FIXTURE}.gguf` });
  await expect.poll(() => row.count(), { timeout: 60_000 }).toBe(1);

  await page.goto(`${app.url}#/chat`);
  await page.reload();
  await page.locator('button.new').click();
  const picker = page.getByLabel('Model', { exact: true });
  const stored = picker.locator('option', { hasText: `${FIXTURE}.gguf (` });
  await expect.poll(() => stored.count(), UI_WAIT).toBe(1);
  await picker.selectOption((await stored.getAttribute('value'))!);
  await expect.poll(() => page.locator('.model-bar .ready').count(), { timeout: 120_000 }).toBe(1);

  const balance = page.locator('details.plan-balance');
  await balance.locator('summary').click();
  const layers = await balance.locator('.layers').innerText();
  const [, resident, streamed] = layers.match(/(\d+) resident, (\d+)\s+streamed/)!.map(Number);
  expect(resident + streamed).toBe(4);
  expect(streamed).toBeGreaterThan(0);
  // Allocated beside planned, per category: the same figures (the plan is what was carried out).
  for (const category of ['weights', 'kv', 'scratch', 'slots', 'total']) {
    const cells = balance.locator(`tr:has(td[data-category="${category}"]) td`);
    const [allocated, planned] = await cells.allTextContents();
    expect(allocated, category).toBe(planned);
  }
  expect(await balance.locator('.speed').innerText()).toMatch(/not measured yet.*predicted/);

  // One answer gives the measured decode speed beside the prediction.
  const input = page.locator('#chat-input');
  await input.fill('Hello');
  await input.press('Enter');
  await expect
    .poll(() => balance.locator('.speed').innerText(), { timeout: 120_000 })
    .toMatch(/^Decode: [\d.]+ tok\/s measured, [\d.]+ tok\/s predicted$/);
  await page.close();
});
