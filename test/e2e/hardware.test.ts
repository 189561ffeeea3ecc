import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';

let server: AppServer;

beforeAll(async () => {
  server = await serveBuiltApp();
});
afterAll(async () => {
  await server?.close();
});

/** Collects uncaught page errors so a test can assert there were none. */
function watchErrors(page: Page): Error[] {
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  return errors;
}

describe('Hardware view on SwiftShader', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('shows the adapter the page gets from navigator.gpu', async () => {
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.url}#/hardware`);
    const card = page.locator('section.card').first();
    await expect.poll(() => card.getByTestId('vendor').textContent()).toBe('google');

    const fromPage = await page.evaluate(async () => {
      const adapter = await navigator.gpu.requestAdapter();
      if (!adapter) throw new Error('no adapter');
      return {
        vendor: adapter.info.vendor,
        architecture: adapter.info.architecture,
        f16: adapter.features.has('shader-f16'),
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      };
    });
    expect(fromPage.vendor).toBe('google');
    expect(await card.getByTestId('architecture').textContent()).toBe(fromPage.architecture);
    expect(fromPage.architecture).toBe('swiftshader');
    expect(await card.getByTestId('adapter-class').textContent()).toMatch(/Software adapter/);
    await expect.poll(() => card.getByTestId('fallback').isVisible()).toBe(true);
    await expect
      .poll(() => page.getByText(/software adapter: it runs on the CPU/).isVisible())
      .toBe(true);

    const f16 = card.getByTestId('feature-shader-f16');
    expect(fromPage.f16).toBe(false);
    expect(await f16.getAttribute('data-present')).toBe('false');
    expect(await f16.textContent()).toMatch(/absent/);

    const binding = card.getByTestId('limit-maxStorageBufferBindingSize');
    expect(Number(await binding.getAttribute('data-value'))).toBe(
      fromPage.maxStorageBufferBindingSize,
    );
    expect((await binding.textContent())!.replace(/,/g, '')).toContain(
      String(fromPage.maxStorageBufferBindingSize),
    );

    await expect
      .poll(() => page.getByRole('link', { name: 'Hardware' }).getAttribute('aria-current'))
      .toBe('page');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('copies the report as JSON', async () => {
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: new URL(server.url).origin,
    });
    const page = await browser.context.newPage();
    await page.goto(`${server.url}#/hardware`);
    await page.getByRole('button', { name: 'Copy as JSON' }).click();
    await expect.poll(() => page.getByText('Copied the report').isVisible()).toBe(true);
    const report = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
    expect(report.status).toBe('ok');
    expect(report.adapters[0].info.architecture).toBe('swiftshader');
    expect(report.adapters[0].limits.maxStorageBufferBindingSize).toBe(2 ** 30);
    await page.close();
  });
});

describe('Calibration on SwiftShader', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('measures the software adapter with a small allocation and shows the rates', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}#/hardware`);
    await page.getByRole('button', { name: 'Measure this GPU now' }).click();
    const result = page.getByTestId('calibration-result');
    await expect.poll(() => result.isVisible(), { timeout: 120_000, interval: 500 }).toBe(true);
    const text = (await result.textContent())!.replace(/\s+/g, ' ');
    expect(text).toMatch(/512 MiB allocated \(all it was asked for\)/);
    expect(text).toMatch(/uploads [\d.]+ [KMG]iB\/s, weight reads [\d.]+ [KMG]iB\/s/);
    await page.close();
  });
});

describe('Hardware view without WebGPU flags', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser({ webgpu: false });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('explains that there is no adapter and what to do, without a page error', async () => {
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${server.url}#/hardware`);
    const problem = page.getByTestId('gpu-problem');
    await expect.poll(() => problem.isVisible()).toBe(true);
    const adapter = await page.evaluate(async () =>
      navigator.gpu ? (await navigator.gpu.requestAdapter()) === null : 'no navigator.gpu',
    );
    expect(adapter).toBe(true);
    expect(await page.getByTestId('gpu-problem-message').textContent()).toMatch(
      /offers no GPU adapter/,
    );
    const text = (await problem.textContent()) ?? '';
    expect(text).toMatch(/hardware acceleration/);
    expect(text).toContain('chrome://flags/#enable-unsafe-webgpu');
    await expect
      .poll(() => page.getByRole('link', { name: 'No GPU adapter: how to fix' }).isVisible())
      .toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });
});
