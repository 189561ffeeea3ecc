// The load-time choice of kernel variants: candidates by adapter, the autotune over a fake
// measurement, and the remembered choice, with no timing of real work.
import { describe, expect, it } from 'vitest';
import 'fake-indexeddb/auto';
import { createStore, set } from 'idb-keyval';
import {
  ALL_VARIANT_CHOICES,
  autotune,
  chooseVariants,
  describeVariants,
  memoryVariantCache,
  tuningKey,
  variantCandidates,
  type VariantChoice,
} from '../../src/engine/gguf/variant-choice';
import { KernelChoiceStore } from '../../src/store/kernel-choices';
import type { ModelHeader } from '../../src/engine/gguf/types';

const SWIFTSHADER = {
  vendor: 'google',
  architecture: 'swiftshader',
  device: 'swiftshader-device',
  description: '',
  isFallbackAdapter: true,
};
const LAVAPIPE = {
  vendor: 'mesa',
  architecture: 'software',
  device: '',
  description: 'llvmpipe (LLVM 15.0.6, 256 bits)',
  isFallbackAdapter: false,
};
const NVIDIA = {
  vendor: 'nvidia',
  architecture: 'ada',
  device: '',
  description: 'NVIDIA GeForce RTX 4070',
  isFallbackAdapter: false,
};

/** A measurement that returns the given milliseconds per lanes-per-row, in turn, and counts calls. */
function fakeMeasure(times: Record<number, number[]>) {
  const calls: number[] = [];
  const next: Record<number, number> = {};
  const measure = async (c: VariantChoice) => {
    calls.push(c.lanesPerRow);
    const i = next[c.lanesPerRow] ?? 0;
    next[c.lanesPerRow] = i + 1;
    const series = times[c.lanesPerRow];
    return series[Math.min(i, series.length - 1)];
  };
  return { measure, calls };
}

const lanes = (choices: VariantChoice[]) => choices.map((c) => c.lanesPerRow);

describe('variant candidates', () => {
  it('lead with one lane per row on CPU-backed adapters and 16 on GPUs', () => {
    expect(lanes(variantCandidates(SWIFTSHADER))).toEqual([1, 4]);
    expect(lanes(variantCandidates(LAVAPIPE))).toEqual([1, 4]);
    expect(lanes(variantCandidates(NVIDIA))).toEqual([16, 8, 32]);
  });

  it('are all among the choices the exactness tests force', () => {
    for (const adapter of [SWIFTSHADER, LAVAPIPE, NVIDIA]) {
      for (const c of variantCandidates(adapter)) {
        expect(lanes([...ALL_VARIANT_CHOICES])).toContain(c.lanesPerRow);
        expect(64 % c.lanesPerRow).toBe(0);
      }
    }
  });
});

describe('autotune', () => {
  it('picks the lowest median after an untimed warm-up, candidates interleaved', async () => {
    // The warm-up (first value) of 4 lanes is slow; its medians after it are the fastest.
    const { measure, calls } = fakeMeasure({
      16: [9, 5, 5, 5],
      8: [9, 6, 6, 6],
      32: [50, 2, 9, 3],
    });
    const chosen = await autotune(variantCandidates(NVIDIA), measure, { rounds: 3 });
    expect(chosen.choice.lanesPerRow).toBe(32);
    expect(chosen.source).toBe('autotuned');
    expect(chosen.timings?.map((t) => t.ms)).toEqual([5, 6, 3]);
    expect(calls).toEqual([16, 8, 32, 16, 8, 32, 16, 8, 32, 16, 8, 32]);
  });

  it('keeps the default unless another beats it by the margin', async () => {
    const { measure } = fakeMeasure({ 1: [10], 4: [9.8] });
    const kept = await autotune(variantCandidates(LAVAPIPE), measure, { margin: 0.05 });
    expect(kept.choice.lanesPerRow).toBe(1);
    const { measure: faster } = fakeMeasure({ 1: [10], 4: [9] });
    expect((await autotune(variantCandidates(LAVAPIPE), faster)).choice.lanesPerRow).toBe(4);
  });

  it('measures nothing with one candidate and refuses none', async () => {
    const { measure, calls } = fakeMeasure({ 1: [1] });
    expect(await autotune([{ lanesPerRow: 1 }], measure)).toEqual({
      choice: { lanesPerRow: 1 },
      source: 'only candidate',
    });
    expect(calls).toEqual([]);
    await expect(autotune([], measure)).rejects.toThrow('no kernel variant to choose from');
  });
});

describe('remembered choices', () => {
  const header = {
    hparams: {
      architecture: 'llama',
      blockCount: 30,
      embeddingLength: 576,
      feedForwardLength: 1536,
      headCount: 9,
      headCountKv: 3,
      keyLength: 64,
      valueLength: 64,
      vocabSize: 49152,
    },
    tensors: [{ type: 8 }, { type: 0 }],
  } as unknown as ModelHeader;

  it('are keyed by adapter, precision and model shape', () => {
    const key = tuningKey(LAVAPIPE, header, 'f32');
    expect(key).toBe(tuningKey(LAVAPIPE, header, 'f32'));
    expect(key).not.toBe(tuningKey(SWIFTSHADER, header, 'f32'));
    expect(key).not.toBe(tuningKey(LAVAPIPE, header, 'f16'));
    const wider = { ...header, hparams: { ...header.hparams, embeddingLength: 960 } };
    expect(key).not.toBe(tuningKey(LAVAPIPE, wider, 'f32'));
  });

  it('time once, then reuse the stored choice without measuring', async () => {
    const cache = new KernelChoiceStore(createStore('test-kernel-choices-1', 'choices'));
    const tuning = { candidates: variantCandidates(LAVAPIPE), key: 'k', cache };
    const first = fakeMeasure({ 1: [10], 4: [5] });
    const tuned = await chooseVariants(tuning, first.measure);
    expect(tuned.choice.lanesPerRow).toBe(4);
    expect(describeVariants(tuned)).toBe('4 lanes per row (autotuned; 1: 10.00 ms, 4: 5.00 ms)');
    const second = fakeMeasure({ 1: [1], 4: [50] });
    const again = await chooseVariants(tuning, second.measure);
    expect(again).toEqual({ choice: { lanesPerRow: 4 }, source: 'cached' });
    expect(second.calls).toEqual([]);
  });

  it('time again when the stored record is not one of the candidates or not a choice', async () => {
    const db = createStore('test-kernel-choices-2', 'choices');
    const cache = new KernelChoiceStore(db);
    await set('gpu', { lanesPerRow: 2 }, db);
    await set('older', { lanesPerRow: 16, retired: true }, db);
    await set('broken', 'not a choice', db);
    expect(await cache.get('broken')).toBeUndefined();
    for (const key of ['gpu', 'older', 'broken']) {
      const { measure, calls } = fakeMeasure({ 16: [5], 8: [9], 32: [9] });
      const chosen = await chooseVariants(
        { candidates: variantCandidates(NVIDIA), key, cache },
        measure,
      );
      expect(chosen).toMatchObject({ choice: { lanesPerRow: 16 }, source: 'autotuned' });
      expect(calls.length).toBeGreaterThan(0);
      expect(await cache.get(key)).toEqual({ lanesPerRow: 16 });
    }
  });

  it('in memory for the Node entry points', async () => {
    const cache = memoryVariantCache();
    expect(await cache.get('x')).toBeUndefined();
    await cache.set('x', { lanesPerRow: 8 });
    expect(await cache.get('x')).toEqual({ lanesPerRow: 8 });
  });
});
