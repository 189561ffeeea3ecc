// The engine's streaming contract on a small fixture: chat events end with `done`, an abort stops
// generation at once, sampling is reproducible from its seed, a second chat turn prefills only its
// new tokens and answers exactly as a fresh load given the whole conversation, and the infer CLI
// prints its JSON.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture } from '../../fixtures/gguf/ensure';
import { greedy } from '../../fixtures/llama-oracle';
import { openTestDevice } from '../harness';
import type { GgufEngine } from '../../../src/engine/gguf/engine';
import { commonPrefix } from '../../../src/engine/gguf/generate';
import { openFileSource } from '../../../src/engine/gguf/source-node';
import {
  GREEDY,
  type ChatMessage,
  type GenerationEvent,
  type GenerationStats,
  type SamplingOptions,
} from '../../../src/engine/engine';
import { loadFullyResident } from './planned-engine';
import type { EngineDevice } from '../../../src/gpu/device';

const run = promisify(execFile);
const FIXTURE = 'qwen2-q8_0';

describe('generation on SwiftShader', () => {
  let device: EngineDevice;
  let engine: GgufEngine;
  let path: string;
  beforeAll(async () => {
    path = ensureFixture(FIXTURE);
    device = await openTestDevice('swiftshader');
    const source = await openFileSource(path);
    engine = await loadFullyResident(device, source, 128);
    await source.close();
  });
  afterAll(async () => {
    await engine.unload();
    device.device.destroy();
  });

  it('streams a chat reply whose last event is done, and stops at once when aborted', async () => {
    const events: GenerationEvent[] = [];
    for await (const e of engine.chat([{ role: 'user', content: 'hello' }], {
      maxTokens: 4,
      sampling: GREEDY,
    })) {
      events.push(e);
    }
    const done = events.at(-1)!;
    expect(done.type).toBe('done');
    if (done.type !== 'done') throw new Error('no done event');
    expect(done.stats.promptTokens).toBe(
      engine.encodeChat([{ role: 'user', content: 'hello' }]).length,
    );
    expect(done.stats.droppedMessages).toBe(0);
    expect(events.filter((e) => e.type === 'token' && e.id >= 0).length).toBe(
      done.stats.generatedTokens,
    );

    const controller = new AbortController();
    const aborted: GenerationEvent[] = [];
    for await (const e of engine.chat([{ role: 'user', content: 'hello' }], {
      maxTokens: 20,
      sampling: GREEDY,
      signal: controller.signal,
    })) {
      aborted.push(e);
      if (e.type === 'token' && e.id >= 0) controller.abort();
    }
    const last = aborted.at(-1)!;
    expect(last.type === 'done' && last.stats.stopReason).toBe('aborted');
    expect(aborted.filter((e) => e.type === 'token' && e.id >= 0)).toHaveLength(1);
  });

  it('a prompt prefilled in passes of 8 tokens gives the bits one pass gives', async () => {
    const source = await openFileSource(path);
    const chunked = await loadFullyResident(device, source, 128, { prefillChunk: 8 });
    await source.close();
    const prompt = Array.from({ length: 29 }, (_, i) => 11 + ((i * 37) % 400));
    const steps = async (e: GgufEngine) => {
      const out: { id: number; top: number[] }[] = [];
      for await (const t of e.generateTokens(prompt, {
        maxTokens: 4,
        sampling: GREEDY,
        topLogits: 8,
      })) {
        out.push({ id: t.id, top: (t.topLogits ?? []).map((l) => l.logit) });
      }
      return out;
    };
    const whole = await steps(engine);
    expect(engine.lastStats?.promptTokens).toBe(29);
    expect(whole[0].top).toHaveLength(8);
    expect(await steps(chunked)).toEqual(whole);
    await chunked.unload();
  });

  it('samples reproducibly from a seed and differently from another seed', async () => {
    const prompt = [10, 20, 30, 40];
    const sampling = (seed: number): SamplingOptions => ({
      temperature: 1.5,
      topK: 0,
      topP: 1,
      minP: 0,
      repetitionPenalty: 1.1,
      repetitionLastN: 64,
      seed,
    });
    const draw = async (seed: number) => {
      const ids: number[] = [];
      for await (const t of engine.generateTokens(prompt, {
        maxTokens: 12,
        sampling: sampling(seed),
      }))
        ids.push(t.id);
      return ids;
    };
    const a = await draw(7);
    expect(await draw(7)).toEqual(a);
    expect(await draw(8)).not.toEqual(a);
  });

  it('a second turn prefills only its new tokens and answers as a fresh load would', async () => {
    const reply = async (target: GgufEngine, messages: ChatMessage[]) => {
      const ids: number[] = [];
      let text = '';
      let stats: GenerationStats | undefined;
      for await (const e of target.chat(messages, { maxTokens: 8, sampling: GREEDY })) {
        if (e.type === 'token') {
          ids.push(e.id);
          text += e.text;
        } else stats = e.stats;
      }
      return { ids, text, stats: stats! };
    };
    const first: ChatMessage[] = [
      { role: 'system', content: 'You are terse.' },
      // On this seeded fixture the greedy reply to this question is text that tokenizes back to
      // the same ids (most of its replies are stray bytes, which cannot).
      { role: 'user', content: 'who are you' },
    ];
    engine.resetCache();
    const one = await reply(engine, first);
    expect(one.stats.prefillTokens).toBe(one.stats.promptTokens);
    const cached = [...engine.cachedTokens];
    const second: ChatMessage[] = [
      ...first,
      { role: 'assistant', content: one.text },
      { role: 'user', content: 'and the fox' },
    ];
    const whole = engine.encodeChat(second);
    // The reply's text tokenizes back to the ids the model generated, so all of the cache is reused.
    expect(commonPrefix(whole, cached)).toBe(cached.length);
    const two = await reply(engine, second);
    expect(two.stats.promptTokens).toBe(whole.length);
    expect(two.stats.prefillTokens).toBe(whole.length - cached.length);

    const source = await openFileSource(path);
    const fresh = await loadFullyResident(device, source, 128);
    await source.close();
    try {
      const again = await reply(fresh, second);
      expect(again.stats.prefillTokens).toBe(whole.length);
      expect(two.ids).toEqual(again.ids);
      expect(two.text).toBe(again.text);
      // The logits themselves, bit for bit: the cached run against the fresh one.
      const logits = async (target: GgufEngine) => {
        const out: number[][] = [];
        for await (const t of target.generateTokens(whole, {
          maxTokens: 4,
          sampling: GREEDY,
          topLogits: 8,
        }))
          out.push(t.topLogits!.flatMap((l) => [l.id, l.logit]));
        return out;
      };
      engine.resetCache();
      await reply(engine, first);
      const reused = await logits(engine);
      expect(engine.lastStats!.prefillTokens).toBe(whole.length - cached.length);
      fresh.resetCache();
      expect(reused).toEqual(await logits(fresh));
    } finally {
      await fresh.unload();
    }
  });

  it('a stop token discards the passes run past it: the next turn equals a fresh run', async () => {
    const prompt = [3, 1, 4, 1, 5, 9, 2, 6];
    const run = async (target: GgufEngine, tokens: number[], maxTokens: number, stop?: number) => {
      const out: { ids: number[]; logits: number[][] } = { ids: [], logits: [] };
      for await (const t of target.generateTokens(tokens, {
        maxTokens,
        sampling: GREEDY,
        topLogits: 8,
        stopTokens: stop === undefined ? undefined : new Set([stop]),
      })) {
        out.ids.push(t.id);
        out.logits.push(t.topLogits!.flatMap((l) => [l.id, l.logit]));
      }
      return out;
    };
    engine.resetCache();
    const free = await run(engine, prompt, 6);
    // Stop at the third token: the passes for it and the ones after were already submitted.
    const stopped = await run(engine, prompt, 6, free.ids[2]);
    expect(stopped.ids).toEqual(free.ids.slice(0, 2));
    expect(engine.lastStats!.stopReason).toBe('eos');
    expect(engine.cachedTokens).toEqual([...prompt, ...free.ids.slice(0, 2)]);
    // The next turn goes another way at the stopped position: its keys and values must replace
    // the speculative ones there.
    const next = [...prompt, ...free.ids.slice(0, 2), (free.ids[2] + 1) % 100, 7];
    const continued = await run(engine, next, 4);
    expect(engine.lastStats!.prefillTokens).toBe(2);
    engine.resetCache();
    expect(continued).toEqual(await run(engine, next, 4));
  });

  it('infer CLI prints the JSON contract with llama.cpp greedy tokens', async () => {
    const prompt = [10, 20, 30, 40];
    const { stdout } = await run(
      'npm',
      [
        'run',
        '--silent',
        'infer',
        '--',
        '--model',
        path,
        '--prompt-tokens',
        prompt.join(','),
        '--max-tokens',
        '6',
        '--greedy',
        '--logits',
        '3',
        '--adapter',
        'swiftshader',
        '--json',
      ],
      { env: { ...process.env }, maxBuffer: 1 << 20 },
    );
    const out = JSON.parse(stdout);
    expect(out.promptTokens).toEqual(prompt);
    expect(out.tokens).toEqual(await greedy(path, prompt, out.tokens.length));
    expect(out.tokens.length).toBeGreaterThan(0);
    expect(out.text).toBe(engine.decode(out.tokens));
    expect(out.topLogits).toHaveLength(out.tokens.length);
    for (const [i, step] of out.topLogits.entries()) {
      expect(step).toHaveLength(3);
      expect(step[0].id).toBe(out.tokens[i]);
      expect(step[0].logit).toBeGreaterThanOrEqual(step[1].logit);
    }
    for (const key of [
      'loadMs',
      'prefillTokensPerSecond',
      'decodeTokensPerSecond',
      'weightBytesPerToken',
      'dispatchesPerToken',
    ]) {
      expect(typeof out.stats[key], key).toBe('number');
    }
  });
});
