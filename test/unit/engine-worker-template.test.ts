// A hostile chat template inside the engine worker: the render ends at its bound with an error the
// page can show, and an unload sent behind it is answered, so switching models never deadlocks.
import { describe, expect, it } from 'vitest';
import type { ChatEngine, ChatMessage } from '../../src/engine/engine.ts';
import { DEFAULT_RENDER_LIMITS } from '../../src/engine/gguf/bounded-template.ts';
import { ChatTemplate } from '../../src/engine/gguf/chat-template.ts';
import { GgufTokenizer } from '../../src/engine/gguf/tokenizer.ts';
import type { WorkerRequest, WorkerResponse } from '../../src/engine/messages.ts';
import { serveEngine } from '../../src/engine/worker.ts';

const tokens = [
  ...Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)),
  '<|im_start|>',
  '<|im_end|>',
];
const metadata = {
  'tokenizer.ggml.model': 'gpt2',
  'tokenizer.ggml.pre': 'qwen2',
  'tokenizer.ggml.tokens': tokens,
  'tokenizer.ggml.token_type': tokens.map((t) => (t.startsWith('<|') ? 3 : 1)),
  'tokenizer.ggml.merges': [],
  'tokenizer.chat_template':
    '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
};

/** An engine whose prompt goes through the model's (hostile) template, as the GGUF engine's does. */
function templatedEngine(unloads: string[]): ChatEngine {
  const template = new ChatTemplate(metadata, new GgufTokenizer(metadata), {
    ...DEFAULT_RENDER_LIMITS,
    maxMs: Infinity,
  });
  return {
    kind: 'gguf',
    contextTokens: 256,
    async *chat(messages: ChatMessage[]) {
      template.encode(messages);
      yield { type: 'done', stats: {} as never };
    },
    unload: async () => void unloads.push('unloaded'),
  };
}

describe('the engine worker with a hostile chat template', () => {
  it('the render fails with the template bound named, and an unload behind a stuck chat is answered', async () => {
    const posted: WorkerResponse[] = [];
    let listener: ((event: MessageEvent<WorkerRequest>) => void) | undefined;
    const unloads: string[] = [];
    serveEngine(
      {
        postMessage: (message) => void posted.push(message),
        addEventListener: (_type, l) => void (listener = l),
      },
      async () => ({ engine: templatedEngine(unloads) }),
      async () => ({ name: 'hostile.gguf', size: 0, read: async () => new Uint8Array(0) }),
    );
    const send = (request: WorkerRequest) =>
      listener!({ data: request } as MessageEvent<WorkerRequest>);
    send({
      type: 'load',
      id: 1,
      source: { type: 'url', url: 'http://127.0.0.1:9/h.gguf' },
      plan: {} as never,
    });
    await expect.poll(() => posted.some((p) => p.type === 'loaded')).toBe(true);

    // A chat renders the template first: the page gets the bound, named.
    send({
      type: 'chat',
      id: 2,
      messages: [{ role: 'user', content: 'Hi' }],
      options: {} as never,
    });
    await expect
      .poll(() => posted.find((p) => p.type === 'error' && p.id === 2), { timeout: 30_000 })
      .toMatchObject({ error: { message: expect.stringContaining('chat template was stopped') } });

    // A chat stuck in the same render, and an unload right behind it: both are answered.
    send({
      type: 'chat',
      id: 3,
      messages: [{ role: 'user', content: 'Hi' }],
      options: {} as never,
    });
    send({ type: 'unload', id: 4 });
    await expect
      .poll(() => posted.some((p) => p.type === 'unloaded' && p.id === 4), { timeout: 30_000 })
      .toBe(true);
    await expect
      .poll(() => posted.some((p) => (p.type === 'done' || p.type === 'error') && p.id === 3))
      .toBe(true);
    expect(unloads).toEqual(['unloaded']);
  }, 60_000);
});
