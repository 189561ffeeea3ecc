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
import { ROWS_PER_THREAD } from '../../src/engine/gguf/kernels/matmul';
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

/** A choice as lanes per row / rows per thread / threads per workgroup. */
const short = (c: VariantChoice) => `${c.lanesPerRow}/${c.rowsPerThread}/${c.workgroupSize}`;

/** A measurement that returns the given milliseconds per choice, in turn, and counts calls. */
function fakeMeasure(times: Record<string, number[]>) {
  const calls: string[] = [];
  const next: Record<string, number> = {};
  const measure = async (c: VariantChoice) => {
    const name = short(c);
    calls.push(name);
    const i = next[name] ?? 0;
    next[name] = i + 1;
    const series = times[name];
    return series[Math.min(i, series.length - 1)];
  };
  return { measure, calls };
}

const names = (choices: readonly VariantChoice[]) => choices.map(short);

/** Milliseconds for each GPU candidate, in candidate order. */
const gpu = (times: number[]) =>
  Object.fromEntries(names(variantCandidates(NVIDIA)).map((n, i) => [n, [times[i]]]));

describe('variant candidates', () => {
  it('are one lane of one row on CPU-backed adapters; 16, 8 or 32 lanes of one row on GPUs', () => {
    expect(names(variantCandidates(SWIFTSHADER))).toEqual(['1/1/64']);
    expect(names(variantCandidates(LAVAPIPE))).toEqual(['1/1/64']);
    expect(names(variantCandidates(NVIDIA))).toEqual(['16/1/64', '8/1/64', '32/1/64']);
  });

  it('are all among the choices the exactness tests force, each listed once', () => {
    const all = names(ALL_VARIANT_CHOICES);
    expect(new Set(all).size).toBe(all.length);
    for (const adapter of [SWIFTSHADER, LAVAPIPE, NVIDIA]) {
      for (const c of variantCandidates(adapter)) expect(all).toContain(short(c));
    }
  });

  it('are kernels matvec.wgsl holds: lanes dividing the workgroup, rows per thread it has', () => {
    for (const c of ALL_VARIANT_CHOICES) {
      expect(c.workgroupSize % c.lanesPerRow, short(c)).toBe(0);
      expect(ROWS_PER_THREAD, short(c)).toContain(c.rowsPerThread);
    }
  });
});

describe('autotune', () => {
  it('picks the lowest median after an untimed warm-up, candidates interleaved', async () => {
    // The warm-up (first value) of 32 lanes is slow; its medians after it are the fastest.
    const { measure, calls } = fakeMeasure({
      '16/1/64': [9, 5, 5, 5],
      '8/1/64': [9, 6, 6, 6],
      '32/1/64': [50, 2, 9, 3],
    });
    const chosen = await autotune(variantCandidates(NVIDIA), measure, { rounds: 3 });
    expect(chosen.choice.lanesPerRow).toBe(32);
    expect(chosen.source).toBe('autotuned');
    expect(chosen.timings?.map((t) => t.ms)).toEqual([5, 6, 3]);
    const round = ['16/1/64', '8/1/64', '32/1/64'];
    expect(calls).toEqual([...round, ...round, ...round, ...round]);
  });

  it('keeps the default unless another beats it by the margin', async () => {
    const { measure } = fakeMeasure(gpu([10, 9.8, 10.5]));
    const kept = await autotune(variantCandidates(NVIDIA), measure, { margin: 0.05 });
    expect(short(kept.choice)).toBe('16/1/64');
    const { measure: faster } = fakeMeasure(gpu([10, 9.4, 9]));
    expect(short((await autotune(variantCandidates(NVIDIA), faster)).choice)).toBe('32/1/64');
  });

  it('measures nothing on a CPU-backed adapter, whose only candidate is one lane of one row', async () => {
    const { measure, calls } = fakeMeasure({ '1/1/64': [1] });
    const cache = memoryVariantCache();
    const chosen = await chooseVariants(
      { candidates: variantCandidates(LAVAPIPE), key: 'cpu', cache },
      measure,
    );
    expect(chosen).toEqual({
      choice: { lanesPerRow: 1, rowsPerThread: 1, workgroupSize: 64 },
      source: 'only candidate',
    });
    expect(calls).toEqual([]);
    expect(await cache.get('cpu')).toBeUndefined();
  });

  it('measures nothing with one candidate and refuses none', async () => {
    const { measure, calls } = fakeMeasure({ '1/1/64': [1] });
    const only = { lanesPerRow: 1, rowsPerThread: 1, workgroupSize: 64 };
    expect(await autotune([only], measure)).toEqual({
      choice: only,
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
    const tuning = { candidates: variantCandidates(NVIDIA), key: 'k', cache };
    const first = fakeMeasure(gpu([10, 5, 7]));
    const tuned = await chooseVariants(tuning, first.measure);
    const chosen = { lanesPerRow: 8, rowsPerThread: 1, workgroupSize: 64 };
    expect(tuned.choice).toEqual(chosen);
    expect(describeVariants(tuned)).toBe(
      '8 lanes per row, one-token kernel 1 rows per thread in 64-thread workgroups (autotuned; ' +
        'lanes/rows/threads 16/1/64: 10.00 ms, 8/1/64: 5.00 ms, 32/1/64: 7.00 ms)',
    );
    expect(await cache.get('k')).toEqual(chosen);
    const second = fakeMeasure(gpu([1, 50, 50]));
    const again = await chooseVariants(tuning, second.measure);
    expect(again).toEqual({ choice: chosen, source: 'cached' });
    expect(second.calls).toEqual([]);
  });

  it('time again when the stored record is not one of the candidates or not a choice', async () => {
    const db = createStore('test-kernel-choices-2', 'choices');
    const cache = new KernelChoiceStore(db);
    const best = { lanesPerRow: 16, rowsPerThread: 1, workgroupSize: 64 };
    await set('gpu', { lanesPerRow: 2, rowsPerThread: 1, workgroupSize: 64 }, db);
    await set('extra knob', { ...best, retired: true }, db);
    // What the first tuning version stored: lanes per row alone.
    await set('version 1', { lanesPerRow: 16 }, db);
    await set('wrong type', { lanesPerRow: 16, rowsPerThread: '1', workgroupSize: 64 }, db);
    await set('broken', 'not a choice', db);
    await set('list', [16, 1, 64], db);
    expect(await cache.get('broken')).toBeUndefined();
    expect(await cache.get('list')).toBeUndefined();
    for (const key of ['gpu', 'extra knob', 'version 1', 'wrong type', 'broken', 'list']) {
      const { measure, calls } = fakeMeasure({ '16/1/64': [5], '8/1/64': [9], '32/1/64': [9] });
      const chosen = await chooseVariants(
        { candidates: variantCandidates(NVIDIA), key, cache },
        measure,
      );
      expect(chosen, key).toMatchObject({ choice: best, source: 'autotuned' });
      expect(calls.length, key).toBeGreaterThan(0);
      expect(await cache.get(key), key).toEqual(best);
    }
  });

  it('in memory for the Node entry points', async () => {
    const cache = memoryVariantCache();
    expect(await cache.get('x')).toBeUndefined();
    const choice = { lanesPerRow: 8, rowsPerThread: 1, workgroupSize: 64 };
    await cache.set('x', choice);
    expect(await cache.get('x')).toEqual(choice);
  });
});
