import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';
import { untilSettingsSaved } from './page-state';

let server: AppServer;
let browser: Browser;

beforeAll(async () => {
  server = await serveBuiltApp();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it('keeps settings across a reload and offers no GPU choice with one adapter', async () => {
  const page = await browser.context.newPage();
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${server.url}#/settings`);
  await expect.poll(() => page.getByLabel('Memory margin').inputValue()).toBe('512');

  // SwiftShader's budget is half of navigator.deviceMemory; the margin comes off it.
  const budgetMiB =
    (await page.evaluate(() => (navigator as { deviceMemory?: number }).deviceMemory!)) * 512;
  const effective = page.getByTestId('effective-budget');
  const usableMiB = (marginMiB: number) => budgetMiB - Math.max(budgetMiB / 10, marginMiB);
  await expect.poll(() => effective.textContent()).toContain(`${usableMiB(512) / 1024} GiB usable`);

  await page.getByLabel('Memory margin').fill('1024');
  await page.getByLabel('Memory margin').press('Tab');
  await expect
    .poll(() => effective.textContent())
    .toContain(`${usableMiB(1024) / 1024} GiB usable`);
  await page.getByRole('radio', { name: 'f32' }).check();
  await page.getByRole('radio', { name: 'INT8' }).check();
  const context = page.locator('#context-length');
  await page.locator('.setting').filter({ has: context }).getByLabel('Automatic').uncheck();
  await expect.poll(() => context.isEnabled()).toBe(true);
  await context.fill('2048');
  await context.press('Tab');
  await page.getByLabel('Calibration probe').uncheck();
  await expect.poll(() => page.getByTestId('single-gpu').isVisible()).toBe(true);
  await untilSettingsSaved(page);

  await page.reload();
  await expect.poll(() => page.getByLabel('Memory margin').inputValue()).toBe('1024');
  expect(await page.getByRole('radio', { name: 'f32' }).isChecked()).toBe(true);
  expect(await page.getByRole('radio', { name: 'INT8' }).isChecked()).toBe(true);
  expect(await page.locator('#context-length').inputValue()).toBe('2048');
  expect(await page.getByLabel('Calibration probe').isChecked()).toBe(false);

  await page.getByRole('button', { name: 'Reset to defaults' }).click();
  await expect.poll(() => page.getByLabel('Memory margin').inputValue()).toBe('512');
  expect(await page.locator('#context-length').isDisabled()).toBe(true);
  expect(errors).toEqual([]);
  await page.close();
});

it('navigates by keyboard and marks the current view', async () => {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 390, height: 800 });
  await page.goto(`${server.url}#/hardware`);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect
    .poll(() => nav.getByRole('link', { name: 'Hardware' }).getAttribute('aria-current'))
    .toBe('page');
  await nav.getByRole('link', { name: 'Settings' }).focus();
  await page.keyboard.press('Enter');
  await expect.poll(() => page.evaluate(() => location.hash)).toBe('#/settings');
  await expect
    .poll(() => nav.getByRole('link', { name: 'Settings' }).getAttribute('aria-current'))
    .toBe('page');
  expect(await nav.getByRole('link', { name: 'Hardware' }).getAttribute('aria-current')).toBeNull();
  // Focus moved into the view, so the next Tab lands on its content, not back in the menu.
  await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('main');
  // Nothing overflows sideways on a phone.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.close();
});
