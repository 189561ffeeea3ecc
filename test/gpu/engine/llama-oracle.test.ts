// The engine against llama.cpp (node-llama-cpp 3.21.1 on the CPU) on every fixture model: greedy
// continuations and next-token probabilities, f32 on SwiftShader and lavapipe, f16 on lavapipe.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixtures } from '../../fixtures/gguf/ensure';
import { FIXTURES } from '../../fixtures/gguf/models';
import { tokenize, trace, type TraceStep } from '../../fixtures/llama-oracle';
import { openTestDevice } from '../harness';
import { greedyRun, loadFixtureModel } from './oracle-helpers';
import type { ComputePrecision } from '../../../src/engine/gguf/buffer-plan';
import type { EngineDevice } from '../../../src/gpu/device';
import { GGMLType } from '../../../src/engine/gguf/types';

const STEPS = 32;
/**
 * 0.02 for fixtures with float weights. llama.cpp's CPU backend rounds the input of every
 * quantized matrix product to 8-bit blocks (Q8_0: 32 values, Q8_K: 256) and the engine computes in
 * f32; the fixtures' large-norm output layers amplify the gap. Measured on SwiftShader over 32
 * steps: up to 0.04 for Q8_0/Q4_0/Q5_0 fixtures and up to 0.093 for the K-quant ones (coarser
 * blocks), so those are held to 0.05 and 0.1 (also their near-tie margins).
 */
const FLOAT_TOLERANCE = 0.02;
const Q8_0_INPUT_TOLERANCE = 0.05;
const Q8_K_INPUT_TOLERANCE = 0.1;
const PROMPT = 'The quick brown fox jumps over the lazy dog. def main():';

/** Every fixture on SwiftShader; on lavapipe one fixture per architecture and weight family. */
const LAVAPIPE_FIXTURES = ['llama-spm-f16', 'qwen2-q8_0', 'qwen3-q5_k_m', 'smollm-bf16'];
const CONFIGS: ['swiftshader' | 'lavapipe', ComputePrecision, string[]][] = [
  ['swiftshader', 'f32', FIXTURES.map((f) => f.id)],
  ['lavapipe', 'f32', LAVAPIPE_FIXTURES],
  ['lavapipe', 'f16', LAVAPIPE_FIXTURES],
];
function tolerance(id: string): number {
  const mix = FIXTURES.find((f) => f.id === id)!.mix;
  if (mix === GGMLType.F16 || mix === GGMLType.BF16 || mix === GGMLType.F32) return FLOAT_TOLERANCE;
  if (mix === GGMLType.Q8_0 || mix === GGMLType.Q4_0 || mix === GGMLType.Q5_0) {
    return Q8_0_INPUT_TOLERANCE;
  }
  return Q8_K_INPUT_TOLERANCE;
}

/** Compares up to (and including) the first step where llama.cpp's own top two are a near tie. */
function compare(
  tokens: number[],
  probabilities: Float64Array[],
  reference: TraceStep[],
  tolerance: number,
): number {
  let compared = 0;
  for (let step = 0; step < reference.length; step++) {
    const top = reference[step].top;
    for (const { id, probability } of top) {
      expect(
        Math.abs(probabilities[step][id] - probability),
        `step ${step}: probability of token ${id}`,
      ).toBeLessThanOrEqual(tolerance);
    }
    compared++;
    const nearTie = top[0].probability - top[1].probability < tolerance;
    if (!nearTie) expect(tokens[step], `greedy token at step ${step}`).toBe(reference[step].greedy);
    if (nearTie) break;
  }
  return compared;
}

describe.each(CONFIGS)('engine against llama.cpp on %s, %s compute', (adapter, precision, ids) => {
  let paths: Record<string, string>;
  let device: EngineDevice;
  beforeAll(async () => {
    paths = ensureFixtures();
    device = await openTestDevice(adapter, { disableF16: precision === 'f32' });
  });
  afterAll(() => device.device.destroy());

  it.each(ids.map((id) => [id]))('%s', async (id) => {
    const path = paths[id];
    const prompt = await tokenize(path, PROMPT);
    const model = await loadFixtureModel(device.device, path, {
      computePrecision: precision,
      lanesPerRow: 1,
    });
    try {
      const run = await greedyRun(model, prompt, STEPS);
      expect(run.tokens).toHaveLength(STEPS);
      const reference = await trace(path, prompt, { steps: STEPS, k: 5, forced: run.tokens });
      const compared = compare(run.tokens, run.probabilities, reference, tolerance(id));
      expect(compared).toBeGreaterThan(0);
    } finally {
      model.destroy();
    }
  });
});
