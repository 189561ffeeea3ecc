// The architectures and weight types of the engine's table beyond llama/qwen2/qwen3 and the first
// nine types, against llama.cpp (node-llama-cpp 3.21.1 on the CPU) run on an F32 copy of each
// fixture: every tensor dequantized by the f64 reference and stored as F32, so llama.cpp computes
// the file's exact math without rounding its activations, and the engine (f32 compute) must agree
// to 0.005 in every top-5 probability, its products reading f32 inputs (as on GPUs; the 8-bit
// inputs of CPU-backed adapters round them as llama.cpp does on the quantized file). The
// comparison with the quantized file itself runs in llama-oracle.test.ts with the wider
// tolerances that rounding needs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureF32Copy, ensureFixture } from '../../fixtures/gguf/ensure';
import { FIXTURES } from '../../fixtures/gguf/models';
import { greedy, tokenize, trace } from '../../fixtures/llama-oracle';
import { openTestDevice } from '../harness';
import { compareWithLlama, greedyRun, loadFixtureModel } from './oracle-helpers';
import { isSlidingLayer } from '../../../src/engine/gguf/hparams';
import type { EngineDevice } from '../../../src/gpu/device';

const STEPS = 24;
const PROMPT = 'The quick brown fox jumps over the lazy dog. def main():';
const F32_COPY_TOLERANCE = 0.005;
const IDS = [
  'gemma3-q3_k_m',
  'gemma2-iq4_xs',
  'llama-q2_k',
  'qwen2-q4_1',
  'llama-q5_1',
  'qwen3-iq4_nl',
  'smollm3-f16',
  'phi-mini-q4_k_m',
];

describe('engine against llama.cpp on F32 copies, swiftshader, f32 compute', () => {
  let device: EngineDevice;
  beforeAll(async () => {
    device = await openTestDevice('swiftshader', { disableF16: true });
  });
  afterAll(() => device.device.destroy());

  it.each(IDS)('%s: top-5 probabilities within 0.005, greedy tokens identical', async (id) => {
    const path = ensureFixture(id);
    const copy = ensureF32Copy(id);
    const prompt = await tokenize(path, PROMPT);
    const model = await loadFixtureModel(device.device, path, {
      computePrecision: 'f32',
      lanesPerRow: 1,
      q8Inputs: false,
    });
    try {
      const run = await greedyRun(model, prompt, STEPS);
      const reference = await trace(copy, prompt, { steps: STEPS, k: 5, forced: run.tokens });
      const compared = compareWithLlama(
        run.tokens,
        run.probabilities,
        reference,
        F32_COPY_TOLERANCE,
      );
      expect(compared).toBeGreaterThan(4);
    } finally {
      model.destroy();
    }
  });

  it('a sliding window shorter than the prompt: greedy tokens as llama.cpp past the window', async () => {
    const id = 'gemma3-q3_k_m';
    const spec = FIXTURES.find((f) => f.id === id)!;
    const window = spec.slidingWindow!;
    const path = ensureFixture(id);
    const copy = ensureF32Copy(id);
    const prompt = await tokenize(path, PROMPT);
    expect(prompt.length).toBeGreaterThan(2 * window);
    const model = await loadFixtureModel(device.device, path, {
      computePrecision: 'f32',
      lanesPerRow: 1,
      q8Inputs: false,
    });
    try {
      const h = model.hparams;
      expect(h.slidingWindow).toBe(window);
      const layers = Array.from({ length: h.blockCount }, (_, i) => isSlidingLayer(h, i));
      expect(layers).toEqual([true, true, false]);
      const run = await greedyRun(model, prompt, STEPS);
      const expected = await greedy(copy, prompt, STEPS);
      const reference = await trace(copy, prompt, { steps: STEPS, k: 2 });
      let same = 0;
      while (same < STEPS && run.tokens[same] === expected[same]) same++;
      // Identical up to the first step where llama.cpp's own top two are a near tie.
      const firstTie = reference.findIndex(
        (s) => s.top[0].probability - s.top[1].probability < F32_COPY_TOLERANCE,
      );
      expect(same).toBeGreaterThanOrEqual(firstTie < 0 ? STEPS : firstTie);
      expect(same).toBeGreaterThan(window);
    } finally {
      model.destroy();
    }
  });
});
