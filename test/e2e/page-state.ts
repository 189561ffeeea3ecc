// Page-side steps several browser tests take: settings written where the app reads them (or the
// settings view's own writes awaited), and the service worker brought to control the page.
import type { Page } from 'playwright-core';
import { expect, vi } from 'vitest';

/** How long the page may take to show what it already has, on a busy two-core machine. */
const UI_WAIT = { timeout: 15_000, interval: 250 };

/**
 * Waits until the settings view has written every change (its form is busy while a save is
 * pending): a reload before that would lose the change.
 */
export async function untilSettingsSaved(page: Page): Promise<void> {
  await expect
    .poll(() => page.locator('main form').first().getAttribute('aria-busy'), UI_WAIT)
    .toBe('false');
}

/** Saves settings where the app reads them (idb-keyval's database), before the app loads. */
export async function saveSettings(page: Page, settings: object): Promise<void> {
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

/**
 * Waits for the service worker the first visit installs, then reloads: the first visit is not
 * controlled by it, a reload is, which proves the precache is complete (before going offline).
 */
export async function untilServiceWorkerControls(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  await page.reload();
  // vi.waitFor rather than expect.poll: this also runs in beforeAll hooks, outside any test.
  await vi.waitFor(
    async () => expect(await page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true),
    UI_WAIT,
  );
}
