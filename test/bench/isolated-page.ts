// A bench page (a folder with an index.html) built by Vite into a temporary folder and served on
// 127.0.0.1 with the app's security headers, so it is cross-origin isolated and llama.cpp in
// WebAssembly gets its threads.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, preview } from 'vite';
import { SECURITY_HEADERS } from '../../src/security-headers.ts';

export interface IsolatedPage {
  url: string;
  close(): Promise<void>;
}

export async function serveIsolatedPage(pageRoot: string): Promise<IsolatedPage> {
  const outDir = await mkdtemp(join(tmpdir(), 'layerwise-bench-page-'));
  await build({
    root: pageRoot,
    base: './',
    configFile: false,
    logLevel: 'warn',
    worker: { format: 'es' },
    build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 100_000 },
  });
  const server = await preview({
    root: pageRoot,
    configFile: false,
    logLevel: 'warn',
    build: { outDir },
    preview: { host: '127.0.0.1', port: 0, headers: SECURITY_HEADERS },
  });
  return {
    url: server.resolvedUrls!.local[0],
    async close() {
      server.httpServer.close();
      await rm(outDir, { recursive: true, force: true });
    },
  };
}
