import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { VitePWA } from 'vite-plugin-pwa';
import { CONTENT_SECURITY_POLICY, SECURITY_HEADERS } from './src/security-headers.ts';

const gpuIcds = [
  '/usr/share/vulkan/icd.d/lvp_icd.json',
  '/usr/lib/chromium/vk_swiftshader_icd.json',
].join(':');

const WEBLLM_MODULE = '/node_modules/@mlc-ai/web-llm/';

// WebLLM's 6 MB module gets a name of its own so the service worker can leave it out of the
// precache (it is fetched, then cached, only when a person picks an MLC model).
function chunkFileName(chunk: { moduleIds: string[] }): string {
  return chunk.moduleIds.some((id) => id.includes(WEBLLM_MODULE))
    ? 'assets/webllm-[hash].js'
    : 'assets/[name]-[hash].js';
}

/**
 * Prints the gzip size of the JavaScript a first visit loads: the entry chunks and what they
 * import statically. Lazy chunks (WebLLM) and the workers (the engine) are not part of it.
 */
function appShellSize(): Plugin {
  return {
    name: 'layerwise-app-shell-size',
    apply: 'build',
    writeBundle(options, bundle) {
      const chunks = new Map(
        Object.values(bundle).flatMap((o) => (o.type === 'chunk' ? [[o.fileName, o]] : [])),
      );
      const shell = new Set<string>();
      const visit = (fileName: string) => {
        const chunk = chunks.get(fileName);
        if (!chunk || shell.has(fileName) || chunk.fileName.includes('webllm-')) return;
        shell.add(fileName);
        chunk.imports.forEach(visit);
      };
      for (const chunk of chunks.values()) if (chunk.isEntry) visit(chunk.fileName);
      if (shell.size === 0) return;
      const gzipBytes = [...shell].reduce(
        (sum, name) => sum + gzipSync(readFileSync(join(options.dir!, name))).length,
        0,
      );
      console.log(
        `\napp shell JavaScript: ${(gzipBytes / 1024).toFixed(1)} KiB gzip in ${shell.size} file(s), ` +
          'without WebLLM and the engine worker\n',
      );
    },
  };
}

const HEADERS_SCRIPT = 'security-headers-sw.js';

/**
 * The app's security headers on every response, wherever it is served: `npm start` and the dev
 * server send them; on a static host the service worker adds them to the responses it serves
 * (a script it imports wraps every `respondWith`), and the first visit, before the service worker
 * runs, still has the policy from a <meta> tag.
 */
function securityHeaders(): Plugin {
  const script = `// Adds Layerwise's security headers to the same-origin responses this service worker serves.
const HEADERS = ${JSON.stringify(SECURITY_HEADERS)};
const respondWith = FetchEvent.prototype.respondWith;
FetchEvent.prototype.respondWith = function (response) {
  return respondWith.call(this, Promise.resolve(response).then(withHeaders));
};
function withHeaders(response) {
  if (response.type !== 'basic' && response.type !== 'default') return response;
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(HEADERS)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
`;
  return {
    name: 'layerwise-security-headers',
    config: () => ({
      server: { headers: SECURITY_HEADERS },
      preview: { headers: SECURITY_HEADERS },
    }),
    transformIndexHtml: () => [
      {
        tag: 'meta',
        attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY },
        injectTo: 'head-prepend',
      },
    ],
    generateBundle() {
      this.emitFile({ type: 'asset', fileName: HEADERS_SCRIPT, source: script });
    },
  };
}

/**
 * Vitest 5 prints failures and snapshot summaries with `Map.groupBy` and `Object.groupBy`, which
 * Node 20 (the version the project supports) lacks: without these a failing run would end in a
 * TypeError instead of its assertion messages.
 */
function groupInto<T, K>(items: Iterable<T>, key: (item: T, index: number) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  let index = 0;
  for (const item of items) {
    const k = key(item, index++);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
const mapWithGroupBy = Map as unknown as { groupBy?: typeof groupInto };
mapWithGroupBy.groupBy ??= groupInto;
const objectWithGroupBy = Object as unknown as {
  groupBy?: <T>(items: Iterable<T>, key: (item: T, index: number) => PropertyKey) => object;
};
objectWithGroupBy.groupBy ??= (items, key) =>
  Object.assign(Object.create(null), Object.fromEntries(groupInto(items, key)));

export default defineConfig({
  base: './',
  plugins: [
    svelte(),
    securityHeaders(),
    VitePWA({
      strategies: 'generateSW',
      registerType: 'autoUpdate',
      injectRegister: false,
      includeManifestIcons: false,
      manifest: {
        name: 'Layerwise',
        short_name: 'Layerwise',
        description: 'Private LLM chat that runs on your own GPU, in your browser.',
        start_url: './',
        scope: './',
        display: 'standalone',
        background_color: '#f7f7f5',
        theme_color: '#2456c7',
        icons: [
          { src: 'icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: 'icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: 'maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
          { src: 'icon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' },
        ],
      },
      workbox: {
        // The shell only: model weights live in IndexedDB, never in the service worker's cache.
        globPatterns: ['**/*.{js,css,html,svg,png,webmanifest,wasm}'],
        globIgnores: ['**/webllm-*.js', '**/mlc.worker-*.js', '**/*.gguf'],
        navigateFallback: 'index.html',
        importScripts: [HEADERS_SCRIPT],
        // Take over the first visit at once, so it can reload into cross-origin isolation.
        clientsClaim: true,
        // The CPU engine's WebAssembly (about 9 MB) is part of the shell, so it runs offline.
        maximumFileSizeToCacheInBytes: 16 * 2 ** 20,
        cleanupOutdatedCaches: true,
        runtimeCaching: [
          {
            urlPattern: ({ url, sameOrigin }) =>
              sameOrigin && /\/assets\/(webllm|mlc\.worker)-[\w-]+\.js$/.test(url.pathname),
            handler: 'CacheFirst',
            options: { cacheName: 'layerwise-webllm-code', expiration: { maxEntries: 8 } },
          },
        ],
      },
    }),
    appShellSize(),
  ],
  worker: {
    format: 'es',
    rolldownOptions: { output: { chunkFileNames: chunkFileName } },
  },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    rolldownOptions: { output: { chunkFileNames: chunkFileName } },
  },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        extends: true,
        test: {
          name: 'gpu',
          include: ['test/gpu/**/*.test.ts'],
          environment: 'node',
          env: { VK_ICD_FILENAMES: gpuIcds },
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
