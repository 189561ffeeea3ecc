// What most browser test files share: a fixture model served from a second origin, the app on a
// static host, and a Chromium, opened before the file's tests and closed after them.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import { ensureFixture } from '../fixtures/gguf/ensure';
import { startFixtureServer, type FixtureServer } from '../fixtures/server';
import { launchBrowser, serveBuiltApp, type AppServer, type Browser } from './browser';

export interface AppSession {
  app: AppServer;
  files: FixtureServer;
  browser: Browser;
  /** Where the fixture server serves the file's model. */
  modelUrl: string;
}

export interface AppSessionOptions {
  /** The generated fixture model to serve (see test/fixtures/gguf/ensure.ts). */
  fixture: string;
  /** Launch Chromium with the WebGPU flags (default) or without them: no adapter at all. */
  webgpu?: boolean;
  /** The host the app is served from; the production build by default. */
  host?: () => Promise<AppServer>;
}

/** Registers the set-up and tear-down hooks; the fields are filled before the first test runs. */
export function useAppSession(options: AppSessionOptions): AppSession {
  const session = {} as AppSession;
  beforeAll(async () => {
    session.files = await startFixtureServer();
    session.modelUrl = session.files.setFile(
      `${options.fixture}.gguf`,
      readFileSync(ensureFixture(options.fixture)),
    );
    session.app = await (options.host ?? serveBuiltApp)();
    session.browser = await launchBrowser({ webgpu: options.webgpu });
  });
  afterAll(async () => {
    await session.browser?.close();
    await session.app?.close();
    await session.files?.close();
  });
  return session;
}
