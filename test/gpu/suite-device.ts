// A describe block's device: opened before its tests, destroyed after (kept out of harness.ts,
// which the benches import outside the test runner).
import { afterAll, beforeAll } from 'vitest';
import { openTestDevice } from './harness';
import { PipelineCache } from '../../src/engine/gguf/kernels/pipeline';
import type { NodeAdapterName } from '../../src/gpu/node-gpu';
import type { EngineDevice } from '../../src/gpu/device';

/** A suite's device and pipeline cache, as `suiteDevice` fills them in before its tests. */
export interface SuiteDevice {
  ed: EngineDevice;
  cache: PipelineCache;
}

/** A device on `adapter` (f32 compute) with its pipeline cache, for the calling suite's tests. */
export function suiteDevice(adapter: NodeAdapterName): SuiteDevice {
  const suite = {} as SuiteDevice;
  beforeAll(async () => {
    suite.ed = await openTestDevice(adapter, { disableF16: true });
    suite.cache = new PipelineCache(suite.ed.device);
  });
  afterAll(() => suite.ed.device.destroy());
  return suite;
}
