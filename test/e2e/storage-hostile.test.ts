// The Storage view against mistakes a person makes: deleting by accident, deleting the model the
// chat has loaded, dropping a file that is not a model.
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';
import { modelBytes, startFixtureServer, type FixtureServer } from '../fixtures/server';
import { CHUNK_BYTES_SETTING, readStoredModel } from './store-page';
import { untilServiceWorkerControls } from './page-state';

const SIZE = 512 * 1024 + 99;

let app: AppServer;
let browser: Browser;
let files: FixtureServer;
let page: Page;

beforeAll(async () => {
  files = await startFixtureServer();
  app = await serveBuiltApp();
  browser = await launchBrowser({ webgpu: false });
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
  await files?.close();
});
beforeEach(async () => {
  page = await browser.context.newPage();
  await page.goto(`${app.url}#/storage`);
  // The service worker the first visit installs may take the page over (and reload it) mid-test.
  await untilServiceWorkerControls(page);
  await page.evaluate(([key, bytes]) => localStorage.setItem(key, bytes), [
    CHUNK_BYTES_SETTING,
    String(64 * 1024),
  ] as const);
});

const row = (id: string) => page.locator(`tr[data-model-id="${id}"]`);

async function storeByUrl(name: string, seed: number): Promise<string> {
  const url = files.setFile(name, modelBytes(SIZE, seed));
  await page.getByLabel('GGUF file URL').fill(url);
  await page.getByRole('button', { name: 'Download', exact: true }).click();
  await expect
    .poll(() => row(url).getAttribute('data-state'), { timeout: 30_000 })
    .toBe('complete');
  return url;
}

it('asks before Delete, and deleting the loaded model unloads it so the chat stops naming it', async () => {
  const url = await storeByUrl('chosen.gguf', 41);
  // The chat's model: chosen from the store, as the Models view or the picker would.
  await page.evaluate((id) => {
    const choice = {
      kind: 'gguf',
      id,
      label: 'chosen.gguf',
      source: { type: 'store', modelId: id },
      options: { contextTokens: 256 },
    };
    localStorage.setItem('layerwise:session-model', JSON.stringify(choice));
  }, url);
  await page.reload();
  await page.goto(`${app.url}#/chat`);
  await expect.poll(() => page.locator('.model-bar .model-name').textContent()).toBe('chosen.gguf');

  await page.goto(`${app.url}#/storage`);
  await row(url).getByRole('button', { name: 'Delete' }).click();
  // Nothing is deleted until the person confirms; focus is on the confirmation.
  const confirm = row(url).getByRole('button', { name: 'Yes, delete' });
  await expect.poll(() => confirm.evaluate((b) => b === document.activeElement)).toBe(true);
  await row(url).getByRole('button', { name: 'Keep it' }).click();
  expect((await readStoredModel(page, url)).state).toBe('complete');

  await row(url).getByRole('button', { name: 'Delete' }).press('Enter');
  await page.keyboard.press('Enter');
  await expect.poll(() => row(url).count()).toBe(0);
  expect((await readStoredModel(page, url)).state).toBeNull();
  // Focus does not fall to the page: it moves to the list the row was in.
  await expect
    .poll(() => page.evaluate(() => document.activeElement?.textContent))
    .toBe('Stored models');
  await page.goto(`${app.url}#/chat`);
  await expect.poll(() => page.locator('.model-bar').textContent()).toContain('No model chosen');
  expect(await page.evaluate(() => localStorage.getItem('layerwise:session-model'))).toBeNull();
  await page.close();
});

it('does not leave a dropped non-GGUF file "In progress"', async () => {
  const dataTransfer = await page.evaluateHandle(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File(['<!doctype html><p>not a model</p>'], 'page.gguf'));
    return transfer;
  });
  await page
    .getByRole('region', { name: /Drop a \.gguf file here/ })
    .dispatchEvent('drop', { dataTransfer });
  await expect
    .poll(() => page.getByRole('alert').textContent())
    .toMatch(/page\.gguf is not a GGUF model: it starts with "<!doctype html><"/);
  expect(await page.getByRole('heading', { name: 'In progress' }).count()).toBe(0);
  expect(await page.locator('li[data-transfer-id]').count()).toBe(0);
  await page.close();
});
