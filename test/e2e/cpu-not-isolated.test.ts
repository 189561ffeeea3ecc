// The app served by a static host that sends no isolation headers and whose service worker never
// arrives (it answers 404), in a Chromium without WebGPU: the page stays without cross-origin
// isolation, so the CPU engine gets no shared memory. The Hardware view says so and why, the
// Models view's plan counts one thread, and the chat runs on the CPU engine with one thread and
// gives llama.cpp's own greedy reply.
import { expect, it } from 'vitest';
import { ensureFixture } from '../fixtures/gguf/ensure';
import { bareStaticHost } from './browser';
import { useAppSession } from './app-session';
import { chatTurn } from './chat-turn';
import { llamaReply } from './llama-reply';

// Its greedy reply stays valid text for these many tokens (see cpu-chat.test.ts).
const FIXTURE = 'qwen2-q8_0';
const MESSAGE = 'The quick brown fox';
const MAX_TOKENS = 8;
const SESSION_KEY = 'layerwise:session-model';
const UI_WAIT = { timeout: 15_000 };

const session = useAppSession({
  fixture: FIXTURE,
  webgpu: false,
  host: () => bareStaticHost({ missing: ['/sw.js'] }),
});

it('says in the Hardware view that the CPU engine runs one thread, and why', async () => {
  const page = await session.browser.context.newPage();
  await page.goto(`${session.app.url}#/hardware`);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  await expect
    .poll(() => page.getByTestId('cpu-threads').textContent(), UI_WAIT)
    .toContain(`1 of ${cores} logical core`);
  const isolation = (await page.getByTestId('cpu-isolation').textContent())!.replace(/\s+/g, ' ');
  expect(isolation).toMatch(/^ ?no: /);
  expect(isolation).toContain('Cross-Origin-Opener-Policy and Cross-Origin-Embedder-Policy');
  expect(isolation).toContain('the CPU engine runs one thread');
  await page.close();
});

it("plans one thread, and chats on the CPU engine with one thread and llama.cpp's reply", async () => {
  const page = await session.browser.context.newPage();
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${session.app.url}#/models`);
  await page.getByLabel('Address of a .gguf file').fill(session.modelUrl);
  await page.getByRole('button', { name: 'Plan it' }).click();
  const card = page.getByTestId('custom-model');
  await expect
    .poll(() => card.getByTestId('plan').getAttribute('data-fits'), { timeout: 60_000 })
    .toBe('full');
  expect(await card.getByTestId('verdict').textContent()).toMatch(
    /Runs on the CPU engine.*1 thread/s,
  );
  expect(await card.getByTestId('engine-choice').textContent()).toContain(
    '1 thread (the page is not cross-origin isolated, so no more)',
  );

  // The chat plans the chosen model itself, as for a model picked before this visit.
  const choice = {
    kind: 'gguf',
    id: FIXTURE,
    label: `${FIXTURE}.gguf`,
    source: { type: 'url', url: session.modelUrl },
  };
  await page.evaluate(([key, value]) => localStorage.setItem(key, value), [
    SESSION_KEY,
    JSON.stringify(choice),
  ] as const);
  await page.goto(`${session.app.url}#/chat`);
  await page.reload();
  await page.locator('button.new').click();
  await page.getByRole('button', { name: 'Load now' }).click();
  await expect.poll(() => page.locator('.model-bar .ready').count(), { timeout: 120_000 }).toBe(1);
  // The engine reports the threads llama.cpp really runs on.
  expect(await page.getByTestId('cpu-engine-threads').textContent()).toBe(
    'on the CPU engine, 1 thread',
  );

  const expected = await llamaReply(
    ensureFixture(FIXTURE),
    [{ role: 'user', content: MESSAGE }],
    MAX_TOKENS,
  );
  expect(expected.text).not.toContain('\ufffd');
  expect(await chatTurn(page, MESSAGE, MAX_TOKENS)).toBe(expected.text);
  expect(errors).toEqual([]);
  await page.close();
});
