// Each one-token matmul variant the engine can run (its defaults and what an autotuner may pick),
// forced in turn, against llama.cpp (node-llama-cpp on the CPU) on lavapipe, f32 compute: greedy
// continuations and next-token probabilities as in llama-oracle.test.ts, decode tokens running
// the forced variant. qwen2-q8_0 has q/k/v biases; qwen3-q5_k_m mixes K-quants.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixtures } from '../../fixtures/gguf/ensure';
import { tokenize, trace } from '../../fixtures/llama-oracle';
import { openTestDevice } from '../harness';
import { compareWithLlama, greedyRun, llamaTolerance, loadFixtureModel } from './oracle-helpers';
import type { DecodeVariant } from '../../../src/engine/gguf/kernels/matmul';
import type { EngineDevice } from '../../../src/gpu/device';

const STEPS = 16;
const PROMPT = 'The quick brown fox jumps over the lazy dog. def main():';

const VARIANTS: [string, DecodeVariant][] = [
  ['one lane per row', { lanesPerRow: 1, workgroupSize: 64, rowsPerThread: 1, subgroups: false }],
  [
    '8 subgroup lanes, 4 rows per thread',
    { lanesPerRow: 8, workgroupSize: 64, rowsPerThread: 4, subgroups: true },
  ],
  [
    '16 lanes through workgroup memory',
    { lanesPerRow: 16, workgroupSize: 64, rowsPerThread: 1, subgroups: false },
  ],
  [
    '4 subgroup lanes, 2 rows per thread, 256 threads',
    { lanesPerRow: 4, workgroupSize: 256, rowsPerThread: 2, subgroups: true },
  ],
  [
    'one lane, 4 rows per thread, 16 threads',
    { lanesPerRow: 1, workgroupSize: 16, rowsPerThread: 4, subgroups: false },
  ],
];
const CASES = [
  ...VARIANTS.map(([name, v]) => ['qwen2-q8_0', name, v] as const),
  ...VARIANTS.filter(([, v]) => v.subgroups).map(([name, v]) => ['qwen3-q5_k_m', name, v] as const),
];

describe('one-token matmul variants against llama.cpp on lavapipe, f32 compute', () => {
  let paths: Record<string, string>;
  let device: EngineDevice;
  beforeAll(async () => {
    paths = ensureFixtures();
    device = await openTestDevice('lavapipe', { disableF16: true });
  });
  afterAll(() => device.device.destroy());

  it.each(CASES)('%s, %s', async (id, _, variant) => {
    const path = paths[id];
    const prompt = await tokenize(path, PROMPT);
    const model = await loadFixtureModel(device.device, path, {
      lanesPerRow: 1,
      decodeVariant: variant,
    });
    try {
      const run = await greedyRun(model, prompt, STEPS);
      expect(run.tokens).toHaveLength(STEPS);
      const reference = await trace(path, prompt, { steps: STEPS, k: 5, forced: run.tokens });
      expect(
        compareWithLlama(run.tokens, run.probabilities, reference, llamaTolerance(id)),
      ).toBeGreaterThan(0);
    } finally {
      model.destroy();
    }
  });
});
