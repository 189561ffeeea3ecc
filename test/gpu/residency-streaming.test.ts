// The counts the planner's decode speed rests on, for 0, 1 and all layers resident on SwiftShader:
// the bytes the engine uploads per decode token equal the plan's streamed bytes, and each streamed
// layer costs one queue submission. The speed itself is compared in `npm run bench:residency`
// (timing on a shared CPU-backed adapter is not a test).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureFixture } from '../fixtures/gguf/ensure';
import { benchResidencies } from '../../src/cli/residency-bench';
import type { EngineDevice } from '../../src/gpu/device';
import { openTestDevice } from './harness';
import { openModel, type OpenedModel } from './residency-helpers';

const FIXTURE = 'llama-spm-f16';
const LAYERS = 2;

let device: EngineDevice;
let opened: OpenedModel;

beforeAll(async () => {
  device = await openTestDevice('swiftshader', { disableF16: true });
  opened = await openModel(ensureFixture(FIXTURE));
});

afterAll(async () => {
  await opened?.source.close();
  device?.device.destroy();
});

it('uploads the planned streamed bytes per token, one submission per streamed layer', async () => {
  const { runs } = await benchResidencies(
    {
      device,
      source: opened.source,
      header: opened.header,
      wishes: { contextTokens: 256, compute: 'f32', weights: 'file' },
      promptLength: 8,
      decodeTokens: 4,
      rounds: 1,
      lanesPerRow: 1,
    },
    [0, 1, LAYERS],
  );
  expect(runs.map((r) => r.resident)).toEqual([0, 1, LAYERS]);
  for (const run of runs) {
    expect(run.uploadBytesPerToken, `${run.resident} resident`).toBe(
      run.plan.predicted.streamedBytesPerToken,
    );
    expect(run.submissionsPerToken, `${run.resident} resident`).toBe(
      Math.max(1, LAYERS - run.resident),
    );
  }
  expect(runs[0].uploadBytesPerToken).toBeGreaterThan(runs[1].uploadBytesPerToken);
  expect(runs[2].uploadBytesPerToken).toBe(0);
});
