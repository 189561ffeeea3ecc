// Shared by the residency tests: plans for a dawn.node device made by the real planner, loads
// through `loadPlanned`, greedy runs that record every step's logits, and the llama.cpp criterion
// of the engine issue.
import { expect } from 'vitest';
import { planModel, describeAdapter, NO_MARGIN } from '../../src/plan';
import type { DeviceDescription, Plan, PlanWishes } from '../../src/plan';
import { parseHeader, checkSupported } from '../../src/engine/gguf/header';
import { openFileSource, type FileModelSource } from '../../src/engine/gguf/source-node';
import { loadPlanned, type PlannedModel } from '../../src/engine/gguf/planned-load';
import type { PipelineCache } from '../../src/engine/gguf/kernels/pipeline';
import { TokenGenerator, type DecodeStats } from '../../src/engine/gguf/generate';
import { GREEDY } from '../../src/engine/engine';
import type { ModelHeader } from '../../src/engine/gguf/types';
import type { AllocatedBytes } from '../../src/engine/gguf/allocator';

export const CONTEXT = 256;
export function describeTestDevice(device: GPUDevice, name: string): DeviceDescription {
  return describeAdapter(
    {
      name,
      adapterClass: 'software',
      limits: {
        maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
        maxBufferSize: device.limits.maxBufferSize,
      },
      features: [],
    },
    { userBudgetBytes: 1 << 30 },
  );
}

export interface OpenedModel {
  source: FileModelSource;
  header: ModelHeader;
}

export async function openModel(path: string): Promise<OpenedModel> {
  const source = await openFileSource(path);
  const header = await parseHeader(source);
  checkSupported(header);
  return { source, header };
}

export function planFor(
  header: ModelHeader,
  devices: DeviceDescription[],
  wishes: PlanWishes = {},
): Plan {
  const plan = planModel(header, devices, {
    contextTokens: CONTEXT,
    margin: NO_MARGIN,
    compute: 'f32',
    ...wishes,
  });
  expect(plan.fits, plan.reasons.join(' ')).not.toBe('none');
  return plan;
}

export function load(
  devices: GPUDevice[],
  opened: OpenedModel,
  plan: Plan,
  pipelines?: PipelineCache[],
): Promise<PlannedModel> {
  return loadPlanned(devices, opened.source, opened.header, plan, { lanesPerRow: 1, pipelines });
}

export interface Run {
  tokens: number[];
  logits: Float32Array[];
  stats: DecodeStats;
}

export async function greedy(loaded: PlannedModel, prompt: number[], steps: number): Promise<Run> {
  const generator = new TokenGenerator(loaded.model);
  const run: Run = { tokens: [], logits: [], stats: undefined as never };
  const done = (s: DecodeStats) => (run.stats = s);
  for await (const t of generator.generate(prompt, { maxTokens: steps, sampling: GREEDY }, done)) {
    run.tokens.push(t.id);
    run.logits.push(await loaded.model.readLogits());
  }
  return run;
}

export function expectBitIdentical(run: Run, reference: Run, what: string): void {
  expect(run.tokens, `${what}: tokens`).toEqual(reference.tokens);
  expect(run.logits.length).toBe(reference.logits.length);
  run.logits.forEach((logits, step) => {
    const differing = logits.findIndex((v, i) => !Object.is(v, reference.logits[step][i]));
    expect(differing, `${what}: first differing logit of step ${step}`).toBe(-1);
  });
}

/** Each category within 2% of the prediction (both zero counts as equal). */
export function expectWithinTwoPercent(
  allocated: AllocatedBytes,
  predicted: AllocatedBytes,
  what: string,
): void {
  for (const key of ['weights', 'kv', 'scratch', 'slots', 'total'] as const) {
    const [a, p] = [allocated[key], predicted[key]];
    const error = p === 0 ? a : Math.abs(a - p) / p;
    expect(error, `${what}: ${key} allocated ${a} bytes, predicted ${p}`).toBeLessThanOrEqual(
      p === 0 ? 0 : 0.02,
    );
  }
}
