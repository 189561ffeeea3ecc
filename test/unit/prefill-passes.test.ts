// The generator's prefill passes: where the model submits a pass before returning
// (`submitsAtOnce`, one device), the next pass is written and submitted before the one ahead of
// it is waited for, at most one waiting; elsewhere (several devices, which hand the hidden state
// over inside `runPass`) nothing of a pass is written before the one ahead has run.
import { describe, expect, it } from 'vitest';
import { TokenGenerator, type PassModel } from '../../src/engine/gguf/generate.ts';
import { GREEDY } from '../../src/engine/engine.ts';
import type { ModelHparams } from '../../src/engine/gguf/types.ts';

const CHUNK = 4;

/** A model logging its calls, each pass finishing only when the test lets it. */
function loggingModel(submitsAtOnce: boolean) {
  const log: string[] = [];
  const finish: (() => void)[] = [];
  const counters = { dispatches: 1, weightBytes: 0, submissions: 1, uploadBytes: 0 };
  const model: PassModel = {
    hparams: { vocabSize: 100 } as ModelHparams,
    prefillChunk: CHUNK,
    options: { contextTokens: 64 },
    feedsBack: false,
    submitsAtOnce,
    writeInputs: (tokens, position) => void log.push(`write ${position}`),
    writeStep: () => {},
    writeSampling: () => {},
    runPass: (ntok) => {
      log.push(`run ${ntok}`);
      return new Promise((resolve) => finish.push(() => resolve(counters)));
    },
    submitSampling: async () => {
      log.push('sample');
      return { counters, slot: 0 };
    },
    readSampled: async () => new Uint32Array([7]),
    readLogits: async () => new Float32Array(100),
  };
  return { model, log, finish };
}

/** Runs a 14-token prompt to its first token, finishing each pass once the generator waits. */
async function prefill(submitsAtOnce: boolean): Promise<string[]> {
  const { model, log, finish } = loggingModel(submitsAtOnce);
  const run = (async () => {
    for await (const token of new TokenGenerator(model).generate(
      Array.from({ length: 14 }, (_, i) => i + 1),
      { maxTokens: 1, sampling: GREEDY },
    )) {
      expect(token.id).toBe(7);
    }
  })();
  let finished = 0;
  for (let turn = 0; turn < 20; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    log.push(`waiting ${finish.length - finished}`);
    if (finished < finish.length) finish[finished++]();
  }
  await run;
  return log;
}

describe('prefill passes', () => {
  it('queue the next pass before waiting where the model submits at once', async () => {
    // Two passes are submitted before the first wait; then one more each time one finishes.
    expect((await prefill(true)).slice(0, 11)).toEqual([
      'write 0',
      'run 4',
      'write 4',
      'run 4',
      'waiting 2',
      'write 8',
      'run 4',
      'waiting 2',
      'write 12',
      'sample',
      'waiting 1',
    ]);
  });

  it('wait for each pass before writing the next elsewhere', async () => {
    expect((await prefill(false)).slice(0, 10)).toEqual([
      'write 0',
      'run 4',
      'waiting 1',
      'write 4',
      'run 4',
      'waiting 1',
      'write 8',
      'run 4',
      'waiting 1',
      'write 12',
    ]);
  });
});
