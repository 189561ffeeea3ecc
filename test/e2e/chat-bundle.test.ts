// The built chunks: WebLLM's module is reached only through a dynamic import (fetched when a
// person picks an MLC model), never from the entry chunk's static imports or the GGUF worker.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const dist = process.env.LAYERWISE_DIST ?? resolve(import.meta.dirname, '../../dist');
const assets = join(dist, 'assets');
/** A sentence of WebLLM's loader that survives minification. */
const WEBLLM_MARKER = 'Fetching param cache';

function read(file: string): string {
  return readFileSync(join(assets, file), 'utf8');
}

function staticImports(code: string): string[] {
  return [...code.matchAll(/(?:from|import)\s*["'`]\.\/([^"'`]+\.js)["'`]/g)].map((m) => m[1]);
}

function dynamicImports(code: string): string[] {
  return [...code.matchAll(/import\(\s*["'`]\.\/([^"'`]+\.js)["'`]\s*\)/g)].map((m) => m[1]);
}

function staticClosure(start: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    staticImports(read(file)).forEach(visit);
  };
  visit(start);
  return seen;
}

describe('built chunks', () => {
  it('keeps WebLLM out of the entry chunk and the GGUF engine worker', () => {
    if (!existsSync(join(dist, 'index.html'))) {
      throw new Error(`${dist} is missing: run \`npm run build\` before the e2e tests.`);
    }
    const html = readFileSync(join(dist, 'index.html'), 'utf8');
    const entry = html.match(/<script[^>]+src="\.\/assets\/([^"]+\.js)"/)?.[1];
    expect(entry).toBeDefined();
    const files = readdirSync(assets).filter((f) => f.endsWith('.js'));
    const withWebllm = files.filter((f) => read(f).includes(WEBLLM_MARKER));
    expect(withWebllm.some((f) => /^webllm-/.test(f))).toBe(true);

    const shell = staticClosure(entry!);
    expect([...shell].filter((f) => withWebllm.includes(f))).toEqual([]);

    const engineWorker = files.find((f) => /^worker-/.test(f));
    expect(engineWorker, 'the GGUF engine worker chunk').toBeDefined();
    expect(read(entry!)).toContain(engineWorker);
    const workerGraph = staticClosure(engineWorker!);
    expect([...workerGraph].filter((f) => withWebllm.includes(f))).toEqual([]);

    // The WebLLM chunk is imported dynamically by the lazily loaded adapter, which the entry
    // itself also reaches only through import().
    const webllmChunk = files.find((f) => /^webllm-/.test(f))!;
    const importers = files.filter((f) => dynamicImports(read(f)).includes(webllmChunk));
    expect(importers.length).toBeGreaterThan(0);
    for (const importer of importers) {
      expect(shell.has(importer), `${importer} is in the entry's static graph`).toBe(false);
      expect(files.some((f) => shell.has(f) && dynamicImports(read(f)).includes(importer))).toBe(
        true,
      );
    }
  });
});
