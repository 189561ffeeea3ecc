// The engine's streaming contract on a small fixture: chat events end with `done`, an abort stops
// generation at once, sampling is reproducible from its seed, and the infer CLI prints its JSON.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture } from '../../fixtures/gguf/ensure';
import { greedy } from '../../fixtures/llama-oracle';
import { openTestDevice } from '../harness';
import { GgufEngine } from '../../../src/engine/gguf/engine';
import { textCodec } from '../../../src/engine/gguf/text-codec';
import { openFileSource } from '../../../src/engine/gguf/source-node';
import { GREEDY, type GenerationEvent, type SamplingOptions } from '../../../src/engine/engine';
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
    engine = await GgufEngine.load(device, source, { codec: textCodec, contextTokens: 128 });
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
      await engine.countChatTokens([{ role: 'user', content: 'hello' }]),
    );
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
