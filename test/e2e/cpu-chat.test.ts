// The app in a Chromium without WebGPU (the flags off: no adapter at all) still plans and chats:
// the Models view plans a model onto the CPU engine, the chat runs it there on the threads the plan
// counted with llama.cpp's own greedy reply, and the Hardware view shows the CPU it runs on,
// cross-origin isolated, with one thread's and a thread per core's measured read rates.
import { expect, it } from 'vitest';
import { ensureFixture } from '../fixtures/gguf/ensure';
import { useAppSession } from './app-session';
import { chatTurn } from './chat-turn';
import { llamaReply } from './llama-reply';

// Its greedy reply to this message stays valid text for these many tokens (see cpu-engine.test).
const FIXTURE = 'qwen2-q8_0';
const MESSAGE = 'The quick brown fox';
const MAX_TOKENS = 8;
const UI_WAIT = { timeout: 15_000 };

const session = useAppSession({ fixture: FIXTURE, webgpu: false });

/** The threads a plan's verdict counts ("… · 2 threads"). */
const threadsIn = (text: string) => Number(/(\d+) threads?\s*$/.exec(text.trim())?.[1]);

it('shows the CPU in the Hardware view: threads, isolation, memory, measured rates', async () => {
  const page = await session.browser.context.newPage();
  await page.goto(`${session.app.url}#/hardware`);
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  expect(cores).toBeGreaterThan(1);
  // The threaded calibration runs in workers once the view is open.
  const together = page.getByTestId('cpu-threaded-read-rate');
  await expect
    .poll(() => together.textContent(), UI_WAIT)
    .toMatch(new RegExp(`[\\d.]+ GB/s with ${cores} threads`));
  expect(await page.getByTestId('cpu-isolation').textContent()).toMatch(/^\s*yes/);
  expect(await page.getByTestId('cpu-read-rate').textContent()).toMatch(/[\d.]+ GB\/s per thread/);
  expect(await page.getByTestId('cpu-memory').textContent()).toMatch(/GiB/);
  // A thread per core, unless the threads read slower together than one alone, which it says.
  const [single, threaded] = await Promise.all(
    ['cpu-read-rate', 'cpu-threaded-read-rate'].map(async (id) =>
      Number(/([\d.]+) GB\/s/.exec((await page.getByTestId(id).textContent())!)![1]),
    ),
  );
  const threads = (await page.getByTestId('cpu-threads').textContent())!.replace(/\s+/g, ' ');
  if (threaded < single) {
    expect(threads).toMatch(
      new RegExp(`^ ?1 of ${cores} logical cores — a thread per core read slower`),
    );
  } else if (threaded > single) {
    expect(threads.trim()).toBe(`${cores} of ${cores} logical cores`);
  }
  await page.close();
});

it('plans a model in the Models view onto the CPU engine with no WebGPU adapter at all', async () => {
  const page = await session.browser.context.newPage();
  await page.goto(`${session.app.url}#/models`);
  const adapter = await page.evaluate(async () =>
    'gpu' in navigator ? (await navigator.gpu.requestAdapter()) !== null : false,
  );
  expect(adapter).toBe(false);
  await expect
    .poll(() => page.getByTestId('no-gpu').textContent(), UI_WAIT)
    .toMatch(/planned for the CPU engine/);
  // The catalogue is listed; WebLLM, which needs WebGPU, offers nothing.
  expect(await page.locator('[data-testid^="catalogue-"]').count()).toBeGreaterThan(0);
  expect(await page.locator('[data-testid^="webllm-"]').count()).toBe(0);

  await page.getByLabel('Address of a .gguf file').fill(session.modelUrl);
  await page.getByRole('button', { name: 'Plan it' }).click();
  const card = page.getByTestId('custom-model');
  await expect
    .poll(() => card.getByTestId('plan').getAttribute('data-fits'), { timeout: 60_000 })
    .toBe('full');
  const verdict = (await card.getByTestId('verdict').textContent())!;
  expect(verdict).toMatch(/Runs on the CPU engine.*[\d.]+ tok\/s.*\d+ threads?/s);
  const engine = card.getByTestId('engine-choice');
  expect(await engine.getAttribute('data-engine')).toBe('cpu');
  const reason = (await engine.textContent())!;
  expect(reason).toMatch(/no WebGPU here; there is no WebGPU adapter/);
  expect(reason).toContain(`on ${threadsIn(verdict)} thread`);
  await page.close();
});

it("stores the planned model, uses it in chat and answers with llama.cpp's reply", async () => {
  const page = await session.browser.context.newPage();
  const errors: Error[] = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${session.app.url}#/models`);
  // The model added in the test before is listed again after the reload.
  const card = page.getByTestId('custom-model');
  await expect
    .poll(() => card.getByTestId('plan').getAttribute('data-fits'), { timeout: 60_000 })
    .toBe('full');
  await card.getByRole('button', { name: /^Download/ }).click();
  await expect
    .poll(() => card.getByTestId('model-actions').getAttribute('data-stored'), { timeout: 60_000 })
    .toBe('true');
  const planned = threadsIn((await card.getByTestId('verdict').textContent())!);
  await card.getByRole('button', { name: 'Use in chat' }).click();
  await expect.poll(() => page.evaluate(() => location.hash)).toBe('#/chat');
  await expect
    .poll(() => page.locator('.model-bar .ready').textContent(), { timeout: 120_000 })
    .toBe('loaded · 256-token context');
  // llama.cpp runs on the threads the plan counted.
  expect(await page.getByTestId('cpu-engine-threads').textContent()).toBe(
    `on the CPU engine, ${planned} thread${planned === 1 ? '' : 's'}`,
  );

  const expected = await llamaReply(
    ensureFixture(FIXTURE),
    [{ role: 'user', content: MESSAGE }],
    MAX_TOKENS,
  );
  expect(expected.text).not.toContain('\ufffd');
  expect(expected.ids.length).toBe(MAX_TOKENS);
  await page.locator('button.new').click();
  expect(await chatTurn(page, MESSAGE, MAX_TOKENS)).toBe(expected.text);
  expect(errors).toEqual([]);
  await page.close();
});
