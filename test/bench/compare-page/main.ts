// The page `npm run bench:compare` drives: llama.cpp in WebAssembly (wllama 3.8.1), loaded once
// per thread count, run on text prompts (its completion API takes no token ids) of a known token
// count with end-of-generation ignored, so every run prefills exactly the prompt and decodes
// exactly the tokens asked, which is checked. The rates are llama.cpp's
// own timings (prompt and predicted tokens per second), as nothing outside its worker sees them.
import { LogLevel, Wllama } from '@wllama/wllama';
import wasmUrl from '@wllama/wllama/esm/wasm/wllama.wasm?url';

interface Timings {
  prompt_n: number;
  prompt_per_second: number;
  predicted_n: number;
  predicted_per_second: number;
}

const loaded = new Map<string, Wllama>();

async function load(id: string, url: string, threads: number, contextTokens: number) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
  const model = await response.blob();
  const wllama = new Wllama({ default: wasmUrl });
  await wllama.loadModel([model], {
    n_ctx: contextTokens,
    n_threads: threads,
    n_batch: 512,
    n_gpu_layers: 0,
    n_parallel: 1,
    log_level: LogLevel.ERROR,
  });
  loaded.set(id, wllama);
  return { threads: wllama.getNumThreads(), isolated: crossOriginIsolated };
}

async function run(id: string, prompt: string, promptTokens: number, decode: number) {
  const wllama = loaded.get(id);
  if (!wllama) throw new Error(`${id} is not loaded`);
  // `ignore_eos` is llama.cpp's; the library's type does not name it.
  const request = {
    prompt,
    n_predict: decode,
    ignore_eos: true,
    temperature: 0,
    cache_prompt: false,
    stream: false,
  };
  const result = (await wllama.createCompletion(
    request as unknown as Parameters<Wllama['createCompletion']>[0],
  )) as unknown as { timings?: Timings };
  const t = result.timings;
  if (!t) throw new Error('llama.cpp returned no timings');
  if (t.prompt_n !== promptTokens || t.predicted_n !== decode) {
    throw new Error(
      `llama.cpp ran ${t.prompt_n} prompt tokens and ${t.predicted_n} decoded tokens, ` +
        `not ${promptTokens} and ${decode}`,
    );
  }
  return {
    prefillTokensPerSecond: t.prompt_per_second,
    decodeTokensPerSecond: t.predicted_per_second,
  };
}

async function unload(id: string) {
  await loaded.get(id)?.exit();
  loaded.delete(id);
}

const api = { load, run, unload };
export type WllamaPageApi = typeof api;
(window as unknown as { wllamaBench: WllamaPageApi }).wllamaBench = api;
document.body.dataset.ready = 'true';
