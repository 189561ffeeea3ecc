// `npm run bench:header`: reading the header of a file with a million-token vocabulary (the case
// that stalled the Models view), with the engine's reader and with @huggingface/gguf served from
// the same bytes. Prints figures for docs/performance.md and asserts nothing.
import { gguf } from '@huggingface/gguf';
import { readHeader } from '../../src/engine/gguf/header-scan';
import { bytesSource } from '../../src/engine/gguf/source';
import { REAL_SHAPES, headerOnlyModel } from '../fixtures/gguf/models';
import { arr, ValueType } from '../fixtures/gguf/writer';

const TOKENS = 1_000_000;
const RUNS = 3;

/** Range requests answered from memory, as the library asks for them. */
function rangeFetch(bytes: Uint8Array): typeof fetch {
  return (async (_input: unknown, init?: RequestInit) => {
    const range = new Headers(init?.headers).get('Range')!.match(/bytes=(\d+)-(\d+)/)!;
    const start = Number(range[1]);
    const end = Math.min(Number(range[2]) + 1, bytes.length);
    return new Response(bytes.slice(start, end), {
      status: 206,
      headers: { 'content-range': `bytes ${start}-${end - 1}/${bytes.length}` },
    });
  }) as typeof fetch;
}

async function time(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

async function main(): Promise<void> {
  const bytes = headerOnlyModel(REAL_SHAPES['Llama-3.1-8B-Q4_K_M'], {
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.tokens': arr(
      ValueType.STRING,
      Array.from({ length: TOKENS }, (_, i) => `tok${i}`),
    ),
  });
  console.log(`header of ${(bytes.length / 1e6).toFixed(1)} MB, ${TOKENS} tokens`);
  for (let run = 1; run <= RUNS; run++) {
    const ours = await time(() => readHeader(bytesSource(bytes)));
    const library = await time(() =>
      gguf('http://model-source.invalid/model.gguf', { fetch: rangeFetch(bytes) }),
    );
    console.log(
      `run ${run}: engine reader ${ours.toFixed(0)} ms, @huggingface/gguf ${library.toFixed(0)} ms`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
