// The CPU engine (llama.cpp in WebAssembly) in the engine worker in headless Chromium, on a
// page served with the app's own headers (cross-origin isolation and the CSP) with two threads: the greedy
// reply equals llama.cpp's own (node-llama-cpp on the CPU), whether the model comes from the
// store (downloaded in chunks from the fixture server, another origin) or from a local file; byte
// tokens that split a 4-byte character stream as that one character, and a byte that is not
// UTF-8 on its own (which llama.cpp's WebAssembly build cannot pass on) ends the reply with an
// error that says so and what to do.
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/engine/engine';
import { ensureFixture } from '../fixtures/gguf/ensure';
import {
  BYTE_CHAIN_IDS,
  BYTE_CHAIN_TEXT,
  LONE_BYTE,
  byteChainBytes,
  byteChainIds,
} from '../fixtures/gguf/byte-chain';
import { startFixtureServer, type FixtureServer } from '../fixtures/server';
import { launchBrowser, type Browser } from './browser';
import type { CpuTestApi } from './cpu-page/main';
import { llamaReply } from './llama-reply';
import { SECURITY_HEADERS } from '../../src/security-headers';

// The random fixtures soon pick a lone byte token that is not UTF-8 on its own, which llama.cpp's
// server-style completion holds back as an unfinished character; these replies stay valid text
// for the lengths given.
const CASES = [
  { fixture: 'qwen2-q5_0', where: 'store', maxTokens: 3 },
  { fixture: 'llama-spm-q4_0', where: 'file', maxTokens: 7 },
] as const;
const MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'The quick brown fox' },
];

let outDir: string;
let server: PreviewServer;
let files: FixtureServer;
let browser: Browser;
let page: Page;
let byteChainPath: string;
let loneBytePath: string;
const urls: Record<string, string> = {};

beforeAll(async () => {
  const root = resolve(import.meta.dirname, 'cpu-page');
  outDir = await mkdtemp(join(tmpdir(), 'layerwise-cpu-page-'));
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
    preview: {
      host: '127.0.0.1',
      port: 0,
      strictPort: false,
      open: false,
      headers: SECURITY_HEADERS,
    },
  });
  files = await startFixtureServer();
  for (const id of CASES.map((c) => c.fixture))
    urls[id] = files.setFile(`${id}.gguf`, readFileSync(ensureFixture(id)));
  const chain = byteChainBytes();
  byteChainPath = join(outDir, 'byte-chain.gguf');
  writeFileSync(byteChainPath, chain);
  urls['byte-chain'] = files.setFile('byte-chain.gguf', chain);
  const lone = byteChainBytes(LONE_BYTE);
  loneBytePath = join(outDir, 'lone-byte.gguf');
  writeFileSync(loneBytePath, lone);
  urls['lone-byte'] = files.setFile('lone-byte.gguf', lone);
  browser = await launchBrowser({ webgpu: false });
  page = await browser.context.newPage();
  await page.goto(server.resolvedUrls!.local[0]);
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached' });
});

afterAll(async () => {
  await browser?.close();
  await files?.close();
  await new Promise<void>((r) => (server ? server.httpServer.close(() => r()) : r()));
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

const run = (where: 'url' | 'file' | 'store', url: string, messages: ChatMessage[], max: number) =>
  page.evaluate(
    ([w, u, m, n]) => (window as unknown as { cpuTest: CpuTestApi }).cpuTest.greedy(w, u, m, n, 2),
    [where, url, messages, max] as const,
  );

describe('CPU engine in the browser worker', () => {
  it('runs on a cross-origin isolated page, so llama.cpp gets its threads', async () => {
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  });

  it.each(CASES)(
    "$fixture from the $where: the greedy reply is llama.cpp's",
    async ({ fixture, where, maxTokens }) => {
      const expected = await llamaReply(ensureFixture(fixture), MESSAGES, maxTokens);
      expect(expected.text).not.toContain('\ufffd');
      const result = await run(where, urls[fixture], MESSAGES, maxTokens);
      expect(result.text).toBe(expected.text);
      expect(result.promptTokens).toBe(expected.promptTokens);
      expect(result.stats?.promptTokens).toBe(expected.promptTokens);
      expect(result.stats?.generatedTokens).toBe(expected.ids.length + (expected.eos ? 1 : 0));
      expect(result.stats?.stopReason).toBe(expected.eos ? 'eos' : 'max-tokens');
      if (where === 'store') expect(result.stages).toContain('cache');
      // Two threads asked for on a cross-origin isolated page: llama.cpp runs two.
      expect(result.threads).toBe(2);
    },
  );

  it('stops when asked, and answers again with the greedy reply from the cached prompt', async () => {
    const { fixture, maxTokens } = CASES[1];
    const expected = await llamaReply(ensureFixture(fixture), MESSAGES, maxTokens);
    const result = await page.evaluate(
      ([u, m, n]) => (window as unknown as { cpuTest: CpuTestApi }).cpuTest.stopThenAgain(u, m, n),
      [urls[fixture], MESSAGES, maxTokens] as const,
    );
    expect(result.stopped?.stopReason).toBe('aborted');
    expect(result.stopped?.generatedTokens).toBeLessThan(200);
    expect(result.text).toBe(expected.text);
  });

  it('streams byte tokens that split a 4-byte character as that one character', async () => {
    const expected = await llamaReply(byteChainPath, MESSAGES, 8);
    // llama.cpp itself writes the character as four byte tokens, then ends the reply.
    expect(expected.ids).toEqual(BYTE_CHAIN_IDS);
    expect(expected.text).toBe(BYTE_CHAIN_TEXT);
    const result = await run('url', urls['byte-chain'], MESSAGES, 8);
    expect(result.pieces.filter((p) => p.length > 0)).toEqual([BYTE_CHAIN_TEXT]);
    expect(result.stats?.stopReason).toBe('eos');
  });

  it('ends a reply with a byte that is not UTF-8 on its own with an error that names it', async () => {
    const expected = await llamaReply(loneBytePath, MESSAGES, 8);
    // llama.cpp itself writes the lone continuation byte, which decodes to U+FFFD, then ends.
    expect(expected.ids).toEqual(byteChainIds(LONE_BYTE));
    expect(expected.text).toBe('\ufffd');
    const seen = await page.evaluate(
      ([u, m]) => (window as unknown as { cpuTest: CpuTestApi }).cpuTest.failures(u, m, 8),
      [urls['lone-byte'], MESSAGES] as const,
    );
    // Both replies on the one engine fail the same way: the first failure leaves it usable.
    expect(seen).toHaveLength(2);
    for (const failure of seen) {
      expect(failure).toMatchObject({ name: 'EngineError', kind: 'bad-model' });
      expect(failure!.message).toContain('generated a byte that is not valid UTF-8');
      expect(failure!.message).toContain('use the GPU engine for this model');
      expect(failure!.message).not.toMatch(/RangeError|typed array/);
    }
  });
});
