import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixtures } from '../fixtures/gguf/ensure.ts';
import { FIXTURES } from '../fixtures/gguf/models.ts';
import {
  closeOracle,
  greedy,
  preload,
  tokenize,
  topProbabilities,
  trace,
} from '../fixtures/llama-oracle.ts';

// Every fixture must load in llama.cpp (the real test of the writer) and give the engine a
// continuation worth comparing: clear favourites, not a single repeated token.
describe('llama.cpp oracle on every fixture', () => {
  let paths: Record<string, string>;
  beforeAll(async () => {
    paths = ensureFixtures();
    for (const path of Object.values(paths)) await preload(path);
  }, 300_000);
  afterAll(closeOracle);

  it.each(FIXTURES.map((f) => f.id))(
    '%s: greedy steps have clear margins and vary',
    async (id) => {
      const prompt = await tokenize(paths[id], 'The model reads the prompt and');
      const steps = await trace(paths[id], prompt, { steps: 16, k: 5 });
      for (const step of steps) {
        expect(step.top[0].id).toBe(step.greedy);
        for (let i = 1; i < step.top.length; i++)
          expect(step.top[i].probability).toBeLessThanOrEqual(step.top[i - 1].probability);
        expect(step.top.reduce((s, t) => s + t.probability, 0)).toBeLessThanOrEqual(1 + 1e-5);
      }
      const clear = steps.filter((s) => s.top[0].probability - s.top[1].probability > 0.02).length;
      expect(clear).toBeGreaterThanOrEqual(12);
      expect(new Set(steps.map((s) => s.greedy)).size).toBeGreaterThanOrEqual(3);
      expect(steps.some((s) => s.top[0].probability < 0.999)).toBe(true);
    },
    120_000,
  );

  it('greedy and topProbabilities agree with trace, and forced tokens steer it', async () => {
    const path = paths['llama3-q4_k_m'];
    const prompt = await tokenize(path, 'Hello world');
    const steps = await trace(path, prompt, { steps: 6, k: 3 });
    expect(await greedy(path, prompt, 6)).toEqual(steps.map((s) => s.greedy));
    expect(await topProbabilities(path, prompt, 6, 3)).toEqual(steps.map((s) => s.top));
    const forced = [steps[0].top[2].id, steps[0].top[1].id];
    const steered = await trace(path, prompt, { steps: 2, k: 3, forced });
    expect(steered.map((s) => s.fed)).toEqual(forced);
    expect(steered[0].top).toEqual(steps[0].top);
    const again = await trace(path, [...prompt, forced[0]], { steps: 1, k: 3 });
    expect(again[0].top).toEqual(steered[1].top);
  }, 120_000);
});
