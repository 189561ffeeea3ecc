// The plan carried out against llama.cpp: the F16 fixture quantized to Q8_0 on load gives logits
// bit-identical to the Q8_0 fixture of the same weights and matches llama.cpp on that file; a model
// split across two different adapters (SwiftShader and lavapipe, unlike in limits and features)
// gives llama.cpp's greedy tokens; a device lost during the load is reported with the plan.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../fixtures/gguf/models';
import { ensureFixtures } from '../fixtures/gguf/ensure';
import { tokenize, trace } from '../fixtures/llama-oracle';
import { PlanLoadError } from '../../src/engine/gguf/planned-load';
import { openTestDevice } from './harness';
import {
  describeTestDevice,
  expectBitIdentical,
  expectWithinTwoPercent,
  greedy,
  load,
  openModel,
  planFor,
} from './residency-helpers';
import { compareWithLlama, llamaTolerance, softmax } from './engine/oracle-helpers';

const TEXT = 'The quick brown fox jumps over the lazy dog. def main():';
const STEPS = 16;

let paths: Record<string, string>;
let swiftshader: GPUDevice;
let lavapipe: GPUDevice;

beforeAll(async () => {
  paths = ensureFixtures();
  swiftshader = (await openTestDevice('swiftshader')).device;
  lavapipe = (await openTestDevice('lavapipe', { disableF16: true })).device;
});

afterAll(() => {
  swiftshader?.destroy();
  lavapipe?.destroy();
});

describe('quantize on load', () => {
  it('F16 fixture as Q8_0: logits bit-identical to the Q8_0 fixture, tokens as llama.cpp on it', async () => {
    const device = [describeTestDevice(swiftshader, 'swiftshader')];
    const f16 = await openModel(paths['pair-f16']);
    const q8 = await openModel(paths['pair-q8_0']);
    const prompt = await tokenize(paths['pair-q8_0'], TEXT);
    const quantizedPlan = planFor(f16.header, device, { weights: 'q8_0' });
    expect(quantizedPlan.precision.weights).toBe('q8_0');
    const storedPlan = planFor(q8.header, device, { weights: 'file' });
    const quantized = await load([swiftshader], f16, quantizedPlan);
    expectWithinTwoPercent(quantized.allocated()[0], quantizedPlan.bytes.gpu, 'F16 as Q8_0');
    const run = await greedy(quantized, prompt, STEPS);
    quantized.destroy();
    const stored = await load([swiftshader], q8, storedPlan);
    const reference = await greedy(stored, prompt, STEPS);
    stored.destroy();
    expectBitIdentical(run, reference, 'F16 quantized on load against the Q8_0 file');
    const llama = await trace(paths['pair-q8_0'], prompt, {
      steps: STEPS,
      k: 5,
      forced: run.tokens,
    });
    expect(
      compareWithLlama(run.tokens, run.logits.map(softmax), llama, llamaTolerance('pair-q8_0')),
    ).toBeGreaterThan(0);
    await Promise.all([f16.source.close(), q8.source.close()]);
  });
});

describe('split across SwiftShader and lavapipe', () => {
  it.each(FIXTURES.map((f) => [f.id]))('%s gives llama.cpp greedy tokens', async (id) => {
    const opened = await openModel(paths[id]);
    const devices = [
      describeTestDevice(swiftshader, 'swiftshader'),
      describeTestDevice(lavapipe, 'lavapipe'),
    ];
    const plan = planFor(opened.header, devices);
    expect(plan.layers.devices).toHaveLength(2);
    const prompt = await tokenize(paths[id], TEXT);
    const loaded = await load([swiftshader, lavapipe], opened, plan);
    loaded
      .allocated()
      .forEach((bytes, i) =>
        expectWithinTwoPercent(bytes, plan.layers.devices[i].bytes, `${id} on device ${i}`),
      );
    const run = await greedy(loaded, prompt, STEPS);
    loaded.destroy();
    const llama = await trace(paths[id], prompt, { steps: STEPS, k: 5, forced: run.tokens });
    expect(
      compareWithLlama(run.tokens, run.logits.map(softmax), llama, llamaTolerance(id)),
    ).toBeGreaterThan(0);
    await opened.source.close();
  });
});

describe('device loss during the load', () => {
  it('rejects with a PlanLoadError that carries the plan and says what to do', async () => {
    const device = (await openTestDevice('swiftshader')).device;
    const opened = await openModel(paths['largest-q4_k_m']);
    const plan = planFor(opened.header, [describeTestDevice(device, 'doomed swiftshader')]);
    const loading = load([device], opened, plan);
    device.destroy();
    const error = await loading.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlanLoadError);
    const failure = error as PlanLoadError;
    expect(failure.failure).toBe('device-lost');
    expect(failure.plan).toBe(plan);
    expect(failure.message).toMatch(/doomed swiftshader.*lost.*10% lower/s);
    await opened.source.close();
  });
});
