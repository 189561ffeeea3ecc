// The headers every same-origin response of the app carries, from `npm start`, the dev server and
// the service worker alike. Cross-origin isolation (COOP + COEP) gives the CPU engine its
// threads (SharedArrayBuffer); the Content Security Policy travels as a header so the engine's
// workers are bound by it too (a <meta> policy does not reach workers).

/**
 * The page may only talk to itself and to the model hosts a person chooses from: Hugging Face and
 * its CDNs, and raw.githubusercontent.com, where WebLLM keeps its model libraries.
 * http://127.0.0.1:* and http://localhost:* are for models served from this very machine (a local
 * file server, and the end-to-end tests' fixture server on a random port); no other plain-http
 * origin is allowed. 'wasm-unsafe-eval' lets WebLLM and llama.cpp compile WebAssembly; blob:
 * workers are how llama.cpp starts its threads.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self' https://huggingface.co https://*.hf.co https://*.huggingface.co https://cdn-lfs.huggingface.co https://*.xethub.hf.co https://raw.githubusercontent.com http://127.0.0.1:* http://localhost:*",
  "worker-src 'self' blob:",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "object-src 'none'",
  "base-uri 'self'",
].join('; ');

/**
 * `credentialless` rather than `require-corp`: model hosts send CORS headers (a CORS fetch passes
 * either way), and credentialless also admits the no-cors requests a host never marked with CORP.
 */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'credentialless',
} as const;

export const SECURITY_HEADERS = {
  ...ISOLATION_HEADERS,
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
} as const;
