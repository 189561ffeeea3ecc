// Partial residency carries out the plan without changing a single bit: for every engine fixture,
// with 0, 1, half and all layers resident, the greedy tokens and every step's logits equal those
// of full residency, and the streamed bytes per token are the streamed layers' packed images.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../fixtures/gguf/models';
import { ensureFixtures } from '../fixtures/gguf/ensure';
import { fullPlacement } from '../../src/engine/gguf/residency';
import { openTestDevice } from './harness';
import { greedyRun, loadFixtureModel, type EngineRun } from './engine/oracle-helpers';

const PROMPT = [1, 5, 9, 13, 2, 7];
const STEPS = 6;

function residencies(layers: number): number[] {
  return [...new Set([0, 1, Math.floor(layers / 2), layers])];
}

let device: GPUDevice;
let paths: Record<string, string>;

beforeAll(async () => {
  paths = ensureFixtures();
  device = (await openTestDevice('swiftshader')).device;
});

afterAll(() => device?.destroy());

function expectSameRun(run: EngineRun, reference: EngineRun): void {
  expect(run.tokens).toEqual(reference.tokens);
  expect(run.logits.length).toBe(reference.logits.length);
  run.logits.forEach((logits, step) => {
    const same = logits.every((v, i) => Object.is(v, reference.logits[step][i]));
    expect(same, `logits of step ${step} differ`).toBe(true);
  });
}

describe.each(FIXTURES.map((f) => [f.id, f.layers] as const))('%s', (id, layers) => {
  it('gives bit-identical tokens and logits with 0, 1, half and all layers resident', async () => {
    const full = await loadFixtureModel(device, paths[id]);
    const reference = await greedyRun(full, PROMPT, STEPS);
    full.destroy();
    expect(reference.stats.submissionsPerToken).toBe(1);
    expect(reference.stats.uploadBytesPerToken).toBe(0);
    for (const resident of residencies(layers).filter((n) => n < layers)) {
      const model = await loadFixtureModel(device, paths[id], {
        placement: fullPlacement(layers, resident),
      });
      const run = await greedyRun(model, PROMPT, STEPS);
      const streamedImages = model.layers
        .slice(0, layers - resident)
        .reduce((a, g) => a + g.bytes, 0);
      model.destroy();
      expectSameRun(run, reference);
      expect(run.stats.uploadBytesPerToken).toBe(streamedImages);
      expect(run.stats.submissionsPerToken).toBe(layers - resident);
    }
  });
});
