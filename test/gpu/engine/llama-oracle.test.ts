// The engine against llama.cpp (node-llama-cpp 3.21.1 on the CPU) on every fixture model: greedy
// continuations and next-token probabilities, f32 on SwiftShader and lavapipe, f16 on lavapipe.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixtures } from '../../fixtures/gguf/ensure';
import { FIXTURES } from '../../fixtures/gguf/models';
import { tokenize, trace } from '../../fixtures/llama-oracle';
import { openTestDevice } from '../harness';
import { compareWithLlama, greedyRun, llamaTolerance, loadFixtureModel } from './oracle-helpers';
import type { ComputePrecision } from '../../../src/engine/gguf/buffer-plan';
import type { EngineDevice } from '../../../src/gpu/device';
import {
  DECODE_KERNELS_PREFILL,
  GPU_PREFILL,
  SHARED_WEIGHT_PREFILL,
  type PrefillKernels,
} from '../../../src/engine/gguf/prefill-kernels';

const STEPS = 32;
const PROMPT = 'The quick brown fox jumps over the lazy dog. def main():';

/** Every fixture on SwiftShader; on lavapipe one fixture per architecture and weight family. */
const LAVAPIPE_FIXTURES = [
  'llama-spm-f16',
  'qwen2-q8_0',
  'qwen2-q5_0',
  'qwen3-q5_k_m',
  'llama3-q4_k_m',
  'smollm-bf16',
  'gemma3-q3_k_m',
];
/**
 * Prompts run through the decode kernels on SwiftShader, through the CPU-backed adapters' prefill
 * kernels (the GEMM read straight from the buffers, its weights shared over lavapipe's 8-lane
 * subgroups; attention one thread per query) with f32 on lavapipe, and through the GPUs' (staged
 * GEMM, flash-style attention) with f16 on lavapipe.
 */
const CONFIGS: ['swiftshader' | 'lavapipe', ComputePrecision, string, PrefillKernels, string[]][] =
  [
    ['swiftshader', 'f32', 'decode kernels', DECODE_KERNELS_PREFILL, FIXTURES.map((f) => f.id)],
    ['lavapipe', 'f32', "CPU adapters' prefill", SHARED_WEIGHT_PREFILL[8], LAVAPIPE_FIXTURES],
    ['lavapipe', 'f16', "GPUs' prefill", GPU_PREFILL, LAVAPIPE_FIXTURES],
  ];
describe.each(CONFIGS)(
  'engine against llama.cpp on %s, %s compute, prompts through the %s',
  (adapter, precision, _, prefill, ids) => {
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
        prefill,
      });
      try {
        const run = await greedyRun(model, prompt, STEPS);
        expect(run.tokens).toHaveLength(STEPS);
        const reference = await trace(path, prompt, { steps: STEPS, k: 5, forced: run.tokens });
        const compared = compareWithLlama(
          run.tokens,
          run.probabilities,
          reference,
          llamaTolerance(id),
        );
        expect(compared).toBeGreaterThan(0);
      } finally {
        model.destroy();
      }
    });
  },
);
