// The Models view for a newcomer and on a bad network: added models survive a reload, stored ones
// are listed, downloads can be paused and cancelled here, hosts without Range support work, a
// SHA-256 can be given, and offline it neither fills with errors nor re-asks for catalogue headers.
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';
import { sha256, startFixtureServer, type FixtureServer } from '../fixtures/server';
import { FIXTURES, fixtureBytes } from '../fixtures/gguf/models';
import { CHUNK_BYTES_SETTING, readStoredModel } from './store-page';

let app: AppServer;
let files: FixtureServer;
let browser: Browser;
let page: Page;
const model = fixtureBytes(FIXTURES.find((f) => f.id === 'qwen2-q5_0')!);
/** Requests the page made to the catalogue's host (answered with a failure: tests stay local). */
let catalogueRequests = 0;

beforeAll(async () => {
  app = await serveBuiltApp();
  files = await startFixtureServer();
  browser = await launchBrowser();
  await browser.context.route('https://huggingface.co/**', (route) => {
    catalogueRequests++;
    return route.abort('internetdisconnected');
  });
});
afterAll(async () => {
  await browser?.close();
  await files?.close();
  await app?.close();
});
beforeEach(async () => {
  files.faults = {};
  page = await browser.context.newPage();
  await page.goto(`${app.url}#/models`);
  await page.evaluate(([key, bytes]) => localStorage.setItem(key, bytes), [
    CHUNK_BYTES_SETTING,
    String(64 * 1024),
  ] as const);
});

const card = (text: string) => page.getByTestId('custom-model').filter({ hasText: text });

async function addUrl(url: string, sha?: string): Promise<void> {
  await page.getByLabel('Address of a .gguf file').fill(url);
  if (sha) await page.getByLabel(/SHA-256 of the file/).fill(sha);
  await page.getByRole('button', { name: 'Plan it' }).click();
}

async function planned(text: string): Promise<void> {
  await expect
    .poll(() => card(text).getByTestId('plan').getAttribute('data-fits'), { timeout: 60_000 })
    .toBe('full');
}

it('first open says what to do and recommends one small model', async () => {
  const steps = page.getByTestId('first-steps');
  await expect.poll(() => steps.textContent()).toMatch(/press Download, then Use in chat/);
  expect(await steps.textContent()).toMatch(/For a first try, SmolLM2[^.]*\(\d+ MiB\)/);
  await page.getByRole('button', { name: /^Show SmolLM2/ }).click();
  await expect
    .poll(() => page.evaluate(() => document.activeElement?.textContent))
    .toMatch(/^SmolLM2/);
  await page.close();
});

it('remembers an added model and its SHA-256 across reloads, and lists stored ones', async () => {
  const url = files.setFile('remembered.gguf', model);
  await addUrl(url, sha256(model));
  await planned('remembered.gguf');
  await page.reload();
  await planned('remembered.gguf');
  expect(await card('remembered.gguf').textContent()).toContain(`SHA-256 ${sha256(model)}`);

  // A model stored from the Storage view appears here too, planned from its stored copy.
  const storedUrl = files.setFile('stored-elsewhere.gguf', model);
  await page.goto(`${app.url}#/storage`);
  await page.getByLabel('GGUF file URL').fill(storedUrl);
  await page.getByRole('button', { name: 'Download', exact: true }).click();
  await expect
    .poll(() => readStoredModel(page, storedUrl).then((m) => m.state), { timeout: 30_000 })
    .toBe('complete');
  await page.goto(`${app.url}#/models`);
  await page.reload();
  const section = page.getByRole('region', { name: 'Stored in this browser' });
  await expect.poll(() => section.textContent()).toContain('stored-elsewhere.gguf');
  await planned('stored-elsewhere.gguf');
  expect(
    await card('stored-elsewhere.gguf').getByRole('button', { name: 'Use in chat' }).isEnabled(),
  ).toBe(true);
  await page.close();
});

it('pauses, resumes and cancels a download from its progress in the Models view', async () => {
  const url = files.setFile('pausable.gguf', model);
  await addUrl(url);
  await planned('pausable.gguf');
  files.faults = { bytesPerSecond: 64 * 1024 };
  await card('pausable.gguf')
    .getByRole('button', { name: /^Download/ })
    .click();
  await card('pausable.gguf').getByRole('button', { name: 'Pause' }).click();
  await expect
    .poll(() => card('pausable.gguf').getByTestId('transfer').textContent())
    .toMatch(/^\s*paused/);
  // Focus stays on the control, now offering to resume; Enter resumes.
  await expect.poll(() => page.evaluate(() => document.activeElement?.textContent)).toBe('Resume');
  await page.keyboard.press('Enter');
  await expect
    .poll(() => card('pausable.gguf').getByTestId('transfer').textContent())
    .toMatch(/^\s*running/);
  await card('pausable.gguf').getByRole('button', { name: 'Cancel' }).click();
  await expect.poll(() => readStoredModel(page, url).then((m) => m.state)).toBeNull();
  await expect
    .poll(() =>
      card('pausable.gguf')
        .getByRole('button', { name: /^Download/ })
        .count(),
    )
    .toBe(1);
  await page.close();
});

it('stores from a host without Range support, as the Storage view does, and plans from the copy', async () => {
  const url = files.setFile('no-range.gguf', model);
  files.faults = { ignoreRange: true };
  await addUrl(url);
  await expect
    .poll(() => card('no-range.gguf').textContent(), { timeout: 30_000 })
    .toMatch(/the plan is made from the stored copy/);
  await card('no-range.gguf')
    .getByRole('button', { name: /^Download/ })
    .click();
  await planned('no-range.gguf');
  expect((await readStoredModel(page, url)).sha256).toBe(sha256(model));
  expect(await card('no-range.gguf').getByRole('button', { name: 'Use in chat' }).isEnabled()).toBe(
    true,
  );
  await page.close();
});

it('refuses a flipped byte from a host that states no hash when a SHA-256 was given', async () => {
  const url = files.setFile('flipped.gguf', model, { linkedEtag: false });
  await addUrl(url, sha256(model));
  await planned('flipped.gguf');
  // Past the header, in every full download (the first and the one retry).
  files.faults = { flipOffset: model.length - 10, flipTimes: 2 };
  await card('flipped.gguf')
    .getByRole('button', { name: /^Download/ })
    .click();
  await expect
    .poll(() => card('flipped.gguf').getByTestId('transfer').textContent(), { timeout: 30_000 })
    .toMatch(/error.*expected SHA-256 is/s);
  expect((await readStoredModel(page, url)).state).not.toBe('complete');
  await page.close();
});

it('offline: no card shows an error and no catalogue header is requested, then each is read once', async () => {
  // A fresh page opened online on another view, then the visit to Models made offline.
  await page.goto(`${app.url}#/hardware`);
  await page.reload();
  catalogueRequests = 0;
  await browser.context.setOffline(true);
  await page.goto(`${app.url}#/models`);
  // Cards read their header once on screen.
  await page.getByRole('heading', { name: /^GGUF models/ }).scrollIntoViewIfNeeded();
  await expect.poll(() => page.getByTestId('plan-offline').count()).toBeGreaterThan(0);
  expect(await page.locator('[data-testid^="catalogue-"] .error').count()).toBe(0);
  expect(catalogueRequests).toBe(0);

  await browser.context.setOffline(false);
  // Back online, the next visit reads the headers that waited (they fail here: tests stay local).
  await page.goto(`${app.url}#/chat`);
  await page.goto(`${app.url}#/models`);
  await page.getByRole('heading', { name: /^GGUF models/ }).scrollIntoViewIfNeeded();
  await expect.poll(() => page.getByTestId('plan-offline').count(), { timeout: 30_000 }).toBe(0);
  await expect.poll(() => catalogueRequests, { timeout: 30_000 }).toBeGreaterThan(0);
  // Headers are read a few at a time: count the requests once every card on screen has finished.
  await expect
    .poll(() => page.getByText("Reading the model's header to plan it").count(), {
      timeout: 30_000,
    })
    .toBe(0);
  const asked = catalogueRequests;
  await page.goto(`${app.url}#/chat`);
  await page.goto(`${app.url}#/models`);
  await expect
    .poll(() => page.getByRole('heading', { name: 'Models', level: 1 }).isVisible())
    .toBe(true);
  await page.getByRole('heading', { name: /^GGUF models/ }).scrollIntoViewIfNeeded();
  // The cards show their earlier failure again: the state a new read would have replaced.
  await expect
    .poll(() => page.locator('[data-testid^="catalogue-"] .error').count())
    .toBeGreaterThan(0);
  expect(catalogueRequests).toBe(asked);
  await page.close();
});
