// Every kernel variant the load-time autotune can pick (lanes per row, the one-token kernel's rows
// per thread and workgroup size, with or without subgroups), each forced in turn on SwiftShader and on
// lavapipe with f32 inputs, against llama.cpp on the F32 copy of a tiny fixture (fused q/k/v and gate/up tensors,
// so segments start at rows that do not fall on workgroup boundaries); and the autotune itself on
// a real load: the adapter's single candidate runs untimed; given candidates are timed once, the
// choice reported, and a second load reuses it.
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
  describeVariants,
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
        // f32 inputs, as on the GPUs whose candidates these are: the file's exact math, which the
        // F32 copy gives (8-bit inputs, the CPU-backed adapters' own, are held to llama.cpp on the
        // quantized files in llama-oracle.test.ts).
        const model = await loadFixtureModel(device.device, path, {
          variantChoice,
          q8Inputs: false,
        });
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

    it('a planned load on this adapter runs its only candidate and times nothing', async () => {
      const [only] = variantCandidates(adapterNames(device.adapterInfo));
      const source = await openFileSource(ensureFixture(ID));
      try {
        const engine = await loadFullyResident(
          device,
          source,
          64,
          {},
          { variantCache: memoryVariantCache() },
        );
        expect(engine.variants).toEqual([{ choice: only, source: 'only candidate' }]);
        expect(engine.kernelVariants).toMatch(
          /^1 lanes per row, one-token kernel 1 rows per thread in 64-thread workgroups \(only candidate\); prefill: /,
        );
        expect(engine.kernelVariants).toMatch(
          /; Q4_0\/Q5_0\/Q8_0\/Q3_K\/Q4_K\/Q5_K\/Q6_K\/IQ4_NL\/IQ4_XS products: 8-bit inputs, integer dot products, one-token products reading each input block once per subgroup$/,
        );
        await engine.unload();
      } finally {
        await source.close();
      }
    });

    it("without WGSL's packed integer dot products the quantized products keep f32 inputs", async () => {
      const source = await openFileSource(ensureFixture(ID));
      try {
        const withoutDot = { ...device, wgslLanguageFeatures: new Set<string>() };
        const engine = await loadFullyResident(withoutDot, source, 64);
        expect(engine.kernelVariants).toMatch(
          /; Q4_0\/Q5_0\/Q8_0\/Q3_K\/Q4_K\/Q5_K\/Q6_K\/IQ4_NL\/IQ4_XS products: f32 inputs$/,
        );
        await engine.unload();
      } finally {
        await source.close();
      }
    });

    it('a load times the candidates it is given, reports its choice, and the next load reuses it', async () => {
      const cache = memoryVariantCache();
      const candidates = [
        { lanesPerRow: 1, rowsPerThread: 1, workgroupSize: 64 },
        { lanesPerRow: 1, rowsPerThread: 4, workgroupSize: 16 },
      ];
      const tuning = { candidates, key: 'variants test', cache };
      const first = await loadFixtureModel(device.device, ensureFixture(ID), { tuning });
      const tuned = first.variants;
      first.destroy();
      expect(tuned.source).toBe('autotuned');
      expect(tuned.timings?.map((t) => t.choice)).toEqual(candidates);
      expect(tuned.timings?.every((t) => t.ms > 0)).toBe(true);
      expect(candidates).toContainEqual(tuned.choice);
      expect(describeVariants(tuned)).toMatch(
        /rows per thread in \d+-thread workgroups \(autotuned; lanes\/rows\/threads 1\/1\/64: [\d.]+ ms, 1\/4\/16: [\d.]+ ms\)/,
      );
      const second = await loadFixtureModel(device.device, ensureFixture(ID), { tuning });
      expect(second.variants).toEqual({ choice: tuned.choice, source: 'cached' });
      second.destroy();
    });
  },
);
