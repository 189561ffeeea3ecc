// The chat's own model picker loads through the same plan as the Models view: with a memory budget
// in Settings too small for every layer, the stored model chosen in the chat's picker is planned
// with layers streamed, and the chat's balance panel shows the plan carried out per device (the
// allocator's bytes beside the plan's, resident and streamed layers, measured beside predicted
// decode speed).
import { expect, it } from 'vitest';
import { useAppSession } from './app-session';
import { saveSettings } from './page-state';

/** Four layers: an 8 MiB budget (7.2 MiB usable) holds one layer resident and streams three. */
const FIXTURE = 'largest-q4_k_m';
const BUDGET_MIB = 8;
const UI_WAIT = { timeout: 15_000 };

const session = useAppSession({ fixture: FIXTURE });

it('honours a budget that forces streaming when the model is picked in the chat', async () => {
  const page = await session.browser.context.newPage();
  await page.goto(`${session.app.url}#/storage`);
  await saveSettings(page, {
    // The GPU engine, though the adapter is a software one (the CPU engine would be chosen).
    engine: 'gpu',
    budgetOverrideMiB: BUDGET_MIB,
    memoryMarginMiB: 0,
    contextLength: 256,
  });
  await page.reload();
  await page.getByLabel('GGUF file URL').fill(session.modelUrl);
  await page.getByRole('button', { name: 'Download', exact: true }).click();
  const row = page.locator(`tr[data-state="complete"]`, { hasText: `${FIXTURE}.gguf` });
  await expect.poll(() => row.count(), { timeout: 60_000 }).toBe(1);

  await page.goto(`${session.app.url}#/chat`);
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
