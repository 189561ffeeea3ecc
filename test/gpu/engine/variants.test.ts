// Every kernel variant the load-time autotune can pick (lanes per row, the one-token kernel's rows
// per thread and workgroup size, with or without subgroups), each forced in turn on SwiftShader and on
// lavapipe, against llama.cpp on the F32 copy of a tiny fixture (fused q/k/v and gate/up tensors,
// so segments start at rows that do not fall on workgroup boundaries); and the autotune itself on
// a real load: it times the adapter's candidates once, reports what it chose, and a second load
// reuses the choice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureF32Copy, ensureFixture } from '../../fixtures/gguf/ensure';
import { tokenize, trace } from '../../fixtures/llama-oracle';
import { openTestDevice } from '../harness';
import { compareWithLlama, greedyRun, loadFixtureModel } from './oracle-helpers';
import { loadFullyResident } from './planned-engine';
import { openFileSource } from '../../../src/engine/gguf/source-node';
import {
  adapterNames,
  ALL_VARIANT_CHOICES,
  memoryVariantCache,
  variantCandidates,
} from '../../../src/engine/gguf/variant-choice';
import type { EngineDevice } from '../../../src/gpu/device';

const ID = 'phi-mini-q4_k_m';
const STEPS = 8;
const PROMPT = 'The quick brown fox jumps over the lazy dog.';

describe.each(['swiftshader', 'lavapipe'] as const)(
  'kernel variants on %s, f32 compute',
  (adapter) => {
    let device: EngineDevice;
    beforeAll(async () => {
      device = await openTestDevice(adapter, { disableF16: true });
    });
    afterAll(() => device.device.destroy());

    it.each(ALL_VARIANT_CHOICES.map((c) => [c.lanesPerRow, c.rowsPerThread, c.workgroupSize, c]))(
      '%i lanes per row, %i rows per thread in %i-thread workgroups: top-5 probabilities within 0.005 of llama.cpp on the F32 copy',
      async (_lanes, _rows, _threads, variantChoice) => {
        const path = ensureFixture(ID);
        const prompt = await tokenize(path, PROMPT);
        const model = await loadFixtureModel(device.device, path, { variantChoice });
        try {
          expect(model.variants).toEqual({ choice: variantChoice, source: 'forced' });
          const run = await greedyRun(model, prompt, STEPS);
          const reference = await trace(ensureF32Copy(ID), prompt, {
            steps: STEPS,
            k: 5,
            forced: run.tokens,
          });
          expect(compareWithLlama(run.tokens, run.probabilities, reference, 0.005)).toBeGreaterThan(
            2,
          );
        } finally {
          model.destroy();
        }
      },
    );

    it('a load times the candidates, reports its choice, and the next load reuses it', async () => {
      const cache = memoryVariantCache();
      const candidates = variantCandidates(adapterNames(device.adapterInfo));
      const load = async () => {
        const source = await openFileSource(ensureFixture(ID));
        try {
          return await loadFullyResident(device, source, 64, {}, { variantCache: cache });
        } finally {
          await source.close();
        }
      };
      const first = await load();
      const [tuned] = first.variants;
      await first.unload();
      expect(tuned.source).toBe('autotuned');
      expect(tuned.timings?.map((t) => t.choice)).toEqual(candidates);
      expect(tuned.timings?.every((t) => t.ms > 0)).toBe(true);
      expect(candidates).toContainEqual(tuned.choice);
      expect(first.kernelVariants).toMatch(
        /rows per thread in \d+-thread workgroups \(autotuned; lanes\/rows\/threads 1\/4\/64: [\d.]+ ms, 1\/4\/16: [\d.]+ ms, 1\/8\/32: [\d.]+ ms\)/,
      );
      const second = await load();
      expect(second.variants).toEqual([{ choice: tuned.choice, source: 'cached' }]);
      await second.unload();
    });
  },
);
