// Partial residency and two devices carry the plan out without changing a single bit: for every
// engine fixture, with 0, 1, half and all layers resident and split across two GPUDevices of one
// adapter, the greedy tokens and every step's logits equal those of full residency on one device;
// the allocator's bytes per category are within 2% of the planner's prediction; and a streamed
// token uploads exactly the streamed layers' packed images.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES } from '../fixtures/gguf/models';
import { ensureFixtures } from '../fixtures/gguf/ensure';
import { PipelineCache } from '../../src/engine/gguf/kernels/pipeline';
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

const PROMPT = [1, 5, 9];
const STEPS = 3;

let devices: GPUDevice[];
let pipelines: PipelineCache[];
let paths: Record<string, string>;

beforeAll(async () => {
  paths = ensureFixtures();
  devices = [
    (await openTestDevice('swiftshader')).device,
    (await openTestDevice('swiftshader')).device,
  ];
  pipelines = devices.map((d) => new PipelineCache(d));
});

afterAll(() => devices?.forEach((d) => d.destroy()));

describe.each(FIXTURES.map((f) => [f.id, f.layers] as const))('%s', (id, layers) => {
  it('streams 0, 1, half and all but the given layers, and splits across two devices, bit-identically', async () => {
    const opened = await openModel(paths[id]);
    const one = [describeTestDevice(devices[0], 'swiftshader 0')];
    const full = planFor(opened.header, one);
    expect(full.fits).toBe('full');
    const reference = await (async () => {
      const loaded = await load([devices[0]], opened, full, pipelines);
      expectWithinTwoPercent(loaded.allocated()[0], full.bytes.gpu, `${id} full`);
      const run = await greedy(loaded, PROMPT, STEPS);
      loaded.destroy();
      return run;
    })();
    expect(reference.stats.submissionsPerToken).toBe(1);
    expect(reference.stats.uploadBytesPerToken).toBe(0);
    for (const resident of [...new Set([0, 1, Math.floor(layers / 2)])]) {
      const plan = planFor(opened.header, one, { residentLayers: resident });
      expect(plan.layers.streamed).toBe(layers - resident);
      const loaded = await load([devices[0]], opened, plan, pipelines);
      const what = `${id} with ${resident} resident`;
      expectWithinTwoPercent(loaded.allocated()[0], plan.bytes.gpu, what);
      const run = await greedy(loaded, PROMPT, STEPS);
      loaded.destroy();
      expectBitIdentical(run, reference, what);
      expect(run.stats.uploadBytesPerToken).toBe(plan.predicted.streamedBytesPerToken);
      expect(run.stats.submissionsPerToken).toBe(layers - resident);
    }
    const two = [
      describeTestDevice(devices[0], 'swiftshader 0'),
      describeTestDevice(devices[1], 'swiftshader 1'),
    ];
    const split = planFor(opened.header, two);
    expect(split.layers.devices.map((d) => d.layers)).toEqual([
      [0, split.layers.devices[0].layers[1]],
      [split.layers.devices[0].layers[1] + 1, layers - 1],
    ]);
    const loaded = await load(devices, opened, split, pipelines);
    loaded
      .allocated()
      .forEach((bytes, i) =>
        expectWithinTwoPercent(bytes, split.layers.devices[i].bytes, `${id} on device ${i} of two`),
      );
    const run = await greedy(loaded, PROMPT, STEPS);
    loaded.destroy();
    expectBitIdentical(run, reference, `${id} on two devices`);
    await opened.source.close();
  });
});
