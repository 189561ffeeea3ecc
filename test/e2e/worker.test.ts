// The GGUF engine in its module Web Worker in headless Chromium (SwiftShader), driven through the
// page-side client: the same greedy tokens as the engine in Node (dawn.node, SwiftShader), the
// page's plan carried out field for field (one device, two devices, partial residency) with the
// allocators' bytes within 2% of the plan's, a second turn without re-prefill, load progress,
// stop, clear load errors, and a page that keeps running while the worker works.
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/engine/engine';
import { ensureFixture } from '../fixtures/gguf/ensure';
import { startFixtureServer, type FixtureServer } from '../fixtures/server';
import { launchBrowser, type Browser } from './browser';
import type { GreedyRun, WorkerTestApi } from './worker-page/main';
import { commonPrefix } from '../../src/engine/gguf/generate';
import { nodeGreedy } from './worker-node-engine';
import { stageFor } from '../../src/engine/worker';

const FIXTURES = ['llama-spm-f16', 'qwen2-q8_0'];
const MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'The quick brown fox' },
];
const MAX_TOKENS = 12;
const CONTEXT = 256;

let outDir: string;
let server: PreviewServer;
let pageUrl: string;
let files: FixtureServer;
let browser: Browser;
let page: Page;
const urls: Record<string, string> = {};

beforeAll(async () => {
  const root = resolve(import.meta.dirname, 'worker-page');
  outDir = await mkdtemp(join(tmpdir(), 'layerwise-worker-page-'));
  await build({
    root,
    base: './',
    configFile: false,
    logLevel: 'warn',
    worker: { format: 'es' },
    build: { outDir, emptyOutDir: true, target: 'es2022' },
  });
  server = await preview({
    root,
    configFile: false,
    logLevel: 'warn',
    build: { outDir },
    preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false },
  });
  pageUrl = server.resolvedUrls!.local[0];
  files = await startFixtureServer();
  for (const id of FIXTURES)
    urls[id] = files.setFile(`${id}.gguf`, readFileSync(ensureFixture(id)));
  files.setFile('not-a-model.gguf', new TextEncoder().encode('this is not a GGUF file at all'));
  browser = await launchBrowser();
  page = await browser.context.newPage();
  await page.goto(pageUrl);
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached' });
});

afterAll(async () => {
  await browser?.close();
  await files?.close();
  await new Promise<void>((r) => (server ? server.httpServer.close(() => r()) : r()));
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

type Api = WorkerTestApi;

function greedyWith(id: string, placement: Parameters<Api['greedy']>[4]): Promise<GreedyRun> {
  return page.evaluate(
    ([url, messages, max, context, p]) =>
      (window as unknown as { engineTest: Api }).engineTest.greedy(url, messages, max, context, p),
    [urls[id], MESSAGES, MAX_TOKENS, CONTEXT, placement] as const,
  );
}

/** The plan the page made against the plan the worker reports it carried out, field by field. */
function expectCarriedOut(run: GreedyRun): void {
  const plan = run.plan;
  const done = run.carriedOut!;
  expect(done.precision).toEqual(plan.precision);
  expect(done.contextTokens).toBe(plan.contextTokens);
  expect({ ...done.layers, devices: undefined }).toEqual({ ...plan.layers, devices: undefined });
  expect(done.layers.devices).toHaveLength(plan.layers.devices.length);
  plan.layers.devices.forEach((device, i) => {
    const carried = done.layers.devices[i];
    for (const key of [
      'name',
      'layers',
      'resident',
      'streamed',
      'holdsEmbedding',
      'holdsOutput',
    ] as const) {
      expect(carried[key], `device ${i} ${key}`).toEqual(device[key]);
    }
    for (const key of ['weights', 'kv', 'scratch', 'slots', 'total'] as const) {
      const planned = device.bytes[key];
      const allocated = carried.allocated[key];
      expect(
        Math.abs(allocated - planned),
        `device ${i} ${key}: ${allocated} vs ${planned}`,
      ).toBeLessThanOrEqual(0.02 * planned);
    }
  });
}

const nodeRuns = new Map<string, ReturnType<typeof nodeGreedy>>();
/** The Node engine's answer for a fixture, computed once per file. */
function expectedFor(id: string) {
  if (!nodeRuns.has(id))
    nodeRuns.set(id, nodeGreedy(ensureFixture(id), MESSAGES, MAX_TOKENS, CONTEXT));
  return nodeRuns.get(id)!;
}

describe('load stages', () => {
  it('names the read stage by where the bytes come from, then the shader build', () => {
    const upload = { stage: 'upload' as const, loaded: 10, total: 40 };
    expect(stageFor({ type: 'url', url: 'https://x/m.gguf' }, upload).stage).toBe('download');
    expect(stageFor({ type: 'store', modelId: 'm' }, upload)).toEqual({
      ...upload,
      stage: 'cache',
    });
    expect(stageFor({ type: 'file', file: new Blob(), name: 'm' }, upload).stage).toBe('upload');
    expect(stageFor({ type: 'store', modelId: 'm' }, { ...upload, loaded: 40 })).toEqual({
      stage: 'compile',
      loaded: 0,
      total: 1,
    });
  });
});

describe('GGUF engine in the browser worker', () => {
  it.each(FIXTURES)('%s: greedy tokens equal the Node engine', async (id) => {
    const expected = await expectedFor(id);
    const run = await page.evaluate(
      ([url, messages, max, context]) =>
        (window as unknown as { engineTest: Api }).engineTest.greedy(url, messages, max, context),
      [urls[id], MESSAGES, MAX_TOKENS, CONTEXT] as const,
    );
    expect(expected.ids.filter((t) => t >= 0).length).toBe(MAX_TOKENS);
    expect(run.ids).toEqual(expected.ids);
    expect(run.text).toBe(expected.text);
    expect(run.stats?.promptTokens).toBe(expected.promptTokens);
    expect(run.stats?.generatedTokens).toBe(MAX_TOKENS);
    expect(run.contextTokens).toBe(CONTEXT);
    expectCarriedOut(run);
    // Bytes come over HTTP Range requests, so the read stage is the download.
    const downloads = run.progress.filter((p) => p.stage === 'download');
    expect(downloads.length).toBeGreaterThan(0);
    expect(run.progress.every((p) => p.stage === 'download' || p.stage === 'compile')).toBe(true);
    for (let i = 1; i < downloads.length; i++) {
      expect(downloads[i].loaded).toBeGreaterThanOrEqual(downloads[i - 1].loaded);
      expect(downloads[i].loaded).toBeLessThanOrEqual(downloads[i].total);
    }
    // Loading and decoding happen in the worker: the page's own timers keep firing.
    expect(run.longestStallMs).toBeLessThan(250);
  });

  it('carries out a plan with layers streamed from host memory, with the same tokens', async () => {
    const id = FIXTURES[0];
    const expected = await expectedFor(id);
    const run = await greedyWith(id, { residentLayers: 1 });
    expect(run.plan.fits).toBe('partial');
    expectCarriedOut(run);
    expect(run.carriedOut!.layers.streamed).toBe(1);
    expect(run.ids).toEqual(expected.ids);
  });

  it('splits the layers across two devices as planned, with the same tokens', async () => {
    const id = FIXTURES[0];
    const expected = await expectedFor(id);
    const run = await greedyWith(id, { twoDevices: true });
    expect(run.plan.layers.devices).toHaveLength(2);
    expect(run.plan.layers.devices.map((d) => d.adapter?.powerPreference)).toEqual([
      'high-performance',
      'low-power',
    ]);
    expectCarriedOut(run);
    expect(run.ids).toEqual(expected.ids);
  });

  it('refuses a plan made for another adapter, saying what differs', async () => {
    const refused = await page.evaluate(
      (url) => (window as unknown as { engineTest: Api }).engineTest.staleAdapter(url),
      urls[FIXTURES[0]],
    );
    expect(refused).toMatchObject({
      kind: 'plan-mismatch',
      message: expect.stringMatching(
        /description is ".*", the plan expected "A GPU that is not here"/,
      ),
    });
  });

  it('prefills only the new tokens of a second turn, answering as a fresh load would', async () => {
    // On this seeded fixture the greedy reply to this question tokenizes back to the same ids.
    const first: ChatMessage[] = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'what is the model' },
    ];
    const run = await page.evaluate(
      ([url, messages, max, context]) =>
        (window as unknown as { engineTest: Api }).engineTest.twoTurns(
          url,
          messages,
          { role: 'user', content: 'and the fox' },
          max,
          context,
        ),
      [urls['qwen2-q8_0'], first, 8, CONTEXT] as const,
    );
    const one = run.one.stats!;
    const two = run.two.stats!;
    expect(one.prefillTokens).toBe(one.promptTokens);
    // What the cache held after the first turn: its prompt and every generated token but the last.
    const cached = one.promptTokens + one.generatedTokens - 1;
    expect(two.prefillTokens).toBe(two.promptTokens - cached);
    expect(two.prefillTokens).toBeLessThan(two.promptTokens);
    expect(run.again.stats!.prefillTokens).toBe(run.again.stats!.promptTokens);
    expect(run.two.ids).toEqual(run.again.ids);
    expect(run.two.text).toBe(run.again.text);
    expect(commonPrefix(run.two.ids, run.again.ids)).toBe(run.again.ids.length);
  });

  it('stops when asked and answers again afterwards', async () => {
    const result = await page.evaluate(
      ([url, messages]) =>
        (window as unknown as { engineTest: Api }).engineTest.stopAfter(url, messages, 3),
      [urls[FIXTURES[0]], MESSAGES] as const,
    );
    expect(result.stats?.stopReason).toBe('aborted');
    expect(result.ids.length).toBeGreaterThanOrEqual(3);
    expect(result.ids.length).toBeLessThan(400);
    expect(result.again).toBeGreaterThan(0);
  });

  it('names the problem when a model cannot be loaded', async () => {
    const missing = await page.evaluate(
      (url) => (window as unknown as { engineTest: Api }).engineTest.loadFailure(url),
      `${files.url}/models/missing.gguf`,
    );
    expect(missing).toMatchObject({ kind: 'network', message: expect.stringMatching(/404/) });
    const broken = await page.evaluate(
      (url) => (window as unknown as { engineTest: Api }).engineTest.loadFailure(url),
      `${files.url}/models/not-a-model.gguf`,
    );
    expect(broken?.kind).toBe('bad-model');
    expect(broken?.message).toMatch(/GGUF/);
  });
});
