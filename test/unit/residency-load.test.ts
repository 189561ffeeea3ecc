// Quantize-on-load against the Q8_0 file of the same weights, byte for byte, and the retry after
// an out-of-memory load: the planner is asked again with budgets 10% lower.
import { describe, expect, it } from 'vitest';
import { ensureFixture } from '../fixtures/gguf/ensure.ts';
import { realShapeHeader } from '../fixtures/real-shapes.ts';
import { parseHeader } from '../../src/engine/gguf/header.ts';
import { openFileSource } from '../../src/engine/gguf/source-node.ts';
import { groupLayout, headTensors, layerTensors } from '../../src/engine/gguf/layout.ts';
import { packGroupImage } from '../../src/engine/gguf/weights.ts';
import { tensorsForLoad } from '../../src/engine/gguf/quantize-on-load.ts';
import { GGMLType, type TensorInfo } from '../../src/engine/gguf/types.ts';
import {
  budgetsTenPercentLower,
  loadWithSmallerBudget,
  PlanLoadError,
} from '../../src/engine/gguf/planned-load.ts';
import {
  describeAdapter,
  NO_MARGIN,
  planModel,
  tensorsOnLoad,
  withUserBudget,
} from '../../src/plan/index.ts';
import type { Plan } from '../../src/plan/index.ts';

const MiB = 2 ** 20;

async function images(path: string, weights: 'file' | 'q8_0'): Promise<Uint8Array[]> {
  const source = await openFileSource(path);
  try {
    const header = await parseHeader(source);
    const tensors = tensorsForLoad(header.tensors, weights);
    const groups: TensorInfo[][] = [
      tensors.filter((t) => t.name === 'token_embd.weight'),
      headTensors(tensors),
      ...Array.from({ length: header.hparams.blockCount }, (_, i) => layerTensors(tensors, i)),
    ];
    const out: Uint8Array[] = [];
    for (const g of groups) out.push(await packGroupImage(source, groupLayout(g, 1 << 30)));
    return out;
  } finally {
    await source.close();
  }
}

describe('quantize on load', () => {
  it('packs the F16 fixture into exactly the bytes of the Q8_0 fixture of the same weights', async () => {
    const quantized = await images(ensureFixture('pair-f16'), 'q8_0');
    const stored = await images(ensureFixture('pair-q8_0'), 'file');
    expect(quantized.map((i) => i.length)).toEqual(stored.map((i) => i.length));
    quantized.forEach((image, g) => {
      const differing = image.findIndex((b, i) => b !== stored[g][i]);
      expect(differing, `group ${g}: first differing byte`).toBe(-1);
    });
  }, 60_000);

  it('converts the tensors the planner converts, to the sizes it predicts', async () => {
    for (const id of ['Qwen3-0.6B-F16', 'Llama-3.2-1B-Q8_0', 'Llama-3.1-8B-Q4_K_M']) {
      const header = await realShapeHeader(id);
      const engine = tensorsForLoad(header.tensors, 'q8_0');
      const planner = tensorsOnLoad(header.tensors, 'q8_0');
      expect(engine.map((t) => [t.name, t.type, t.bytes])).toEqual(
        planner.map((t) => [t.name, t.type, t.bytes]),
      );
      for (const t of engine.filter((t) => t.sourceType !== undefined)) {
        expect(t.type).toBe(GGMLType.Q8_0);
        expect([GGMLType.F16, GGMLType.BF16, GGMLType.F32]).toContain(t.sourceType);
      }
    }
  });
});

describe('retry with a smaller budget', () => {
  const device = describeAdapter(
    {
      name: 'test GPU',
      adapterClass: 'discrete',
      limits: { maxStorageBufferBindingSize: 2 ** 31 - 4, maxBufferSize: 2 ** 32 },
      features: ['shader-f16'],
    },
    { userBudgetBytes: 4096 * MiB },
  );
  const planWith = (header: Awaited<ReturnType<typeof realShapeHeader>>, budget: number) =>
    planModel(header, [withUserBudget(device, budget)], { margin: NO_MARGIN, contextTokens: 4096 });

  it('re-plans with budgets 10% lower after an out-of-memory load, and reports the failed plan', async () => {
    const header = await realShapeHeader('Llama-3.1-8B-Q4_K_M');
    const first = planWith(header, 4096 * MiB);
    expect(first.fits).toBe('partial');
    const tried: Plan[] = [];
    const asked: number[][] = [];
    const result = await loadWithSmallerBudget(
      first,
      async (plan) => {
        tried.push(plan);
        if (tried.length === 1) throw new PlanLoadError(plan, 'out-of-memory', 'out of memory');
        return plan;
      },
      (budgets) => {
        asked.push(budgets);
        return planWith(header, budgets[0]);
      },
    );
    expect(asked).toEqual([[Math.floor(4096 * MiB * 0.9)]]);
    expect(budgetsTenPercentLower(first)).toEqual(asked[0]);
    expect(result).toBe(tried[1]);
    expect(result.layers.resident).toBeLessThan(first.layers.resident);
  });

  it('gives up after the last attempt with the error carrying the plan that failed', async () => {
    const header = await realShapeHeader('Llama-3.1-8B-Q4_K_M');
    const first = planWith(header, 4096 * MiB);
    const failing = loadWithSmallerBudget(
      first,
      async (plan) => {
        throw new PlanLoadError(plan, 'out-of-memory', 'out of memory');
      },
      (budgets) => planWith(header, budgets[0]),
      2,
    );
    const error = await failing.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlanLoadError);
    expect((error as PlanLoadError).plan.layers.devices[0].budget.budget.value).toBe(
      Math.floor(4096 * MiB * 0.9),
    );
  });

  it('does not retry errors that a smaller budget cannot fix', async () => {
    const header = await realShapeHeader('Llama-3.1-8B-Q4_K_M');
    const first = planWith(header, 4096 * MiB);
    let loads = 0;
    const error = await loadWithSmallerBudget(
      first,
      async () => {
        loads++;
        throw new Error('broken file');
      },
      (budgets) => planWith(header, budgets[0]),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe('broken file');
    expect(loads).toBe(1);
  });
});
