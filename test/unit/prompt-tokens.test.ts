// Token ids given directly (`infer --prompt-tokens`, or any caller of the generator) must be ids of
// the model's vocabulary: 2^32 used to wrap to 0 on its way to the GPU, and ids past the vocabulary
// read other bytes. Both are refused by name before anything runs.
import { describe, expect, it } from 'vitest';
import { CliUsageError, parseCliArgs, tokenIdsFlag } from '../../src/cli/args.ts';
import {
  InvalidTokenError,
  TokenGenerator,
  type PassModel,
} from '../../src/engine/gguf/generate.ts';
import { GREEDY } from '../../src/engine/engine.ts';
import type { ModelHparams } from '../../src/engine/gguf/types.ts';

const VOCAB = 1000;

function flag(text: string): number[] {
  const args = parseCliArgs(['--prompt-tokens', text], 'usage', {
    flags: [],
    values: ['prompt-tokens'],
  });
  return tokenIdsFlag(args, 'prompt-tokens', VOCAB);
}

describe('--prompt-tokens', () => {
  it('reads ids below the vocabulary size', () => {
    expect(flag('1, 2,999,')).toEqual([1, 2, 999]);
  });

  it.each([
    ['4294967296', '4294967296 is not a token of this model'],
    ['1000', '1000 is not a token of this model'],
    ['5,1000000', '1000000 is not a token of this model'],
    ['-1', '"-1" is not a token id'],
    ['1e3', '"1e3" is not a token id'],
    ['0x10', '"0x10" is not a token id'],
    ['2.5', '"2.5" is not a token id'],
  ])('refuses %s', (text, message) => {
    expect(() => flag(text)).toThrow(CliUsageError);
    expect(() => flag(text)).toThrow(message);
  });
});

/** A model that records what reaches the GPU: nothing should, for a bad prompt. */
function recordingModel(): PassModel & { written: number[][] } {
  const written: number[][] = [];
  const counters = { dispatches: 0, weightBytes: 0, submissions: 1, uploadBytes: 0 };
  return {
    written,
    hparams: { vocabSize: VOCAB } as ModelHparams,
    prefillChunk: 64,
    options: { contextTokens: 128 },
    feedsBack: false,
    submitsAtOnce: false,
    writeInputs: (tokens) => void written.push([...tokens]),
    writeStep: () => {},
    writeSampling: () => {},
    runPass: async () => counters,
    submitSampling: async () => ({ counters, slot: 0 }),
    readSampled: async () => new Uint32Array([3]),
    readLogits: async () => new Float32Array(VOCAB),
  };
}

describe('the generator refuses ids outside the vocabulary before any pass', () => {
  it.each([
    [[1, 2 ** 32], 1],
    [[VOCAB], 0],
    [[5, 6, -1], 2],
    [[1.5], 0],
  ])('%j', async (prompt, index) => {
    const model = recordingModel();
    const run = async () => {
      for await (const token of new TokenGenerator(model).generate(prompt, {
        maxTokens: 2,
        sampling: GREEDY,
      }))
        void token;
    };
    const error = await run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidTokenError);
    expect(error).toMatchObject({ index, id: prompt[index], vocabSize: VOCAB });
    expect(model.written).toEqual([]);
  });

  it('a valid prompt reaches the model', async () => {
    const model = recordingModel();
    const ids: number[] = [];
    for await (const t of new TokenGenerator(model).generate([0, 999], {
      maxTokens: 1,
      sampling: GREEDY,
    }))
      ids.push(t.id);
    expect(model.written[0]).toEqual([0, 999]);
    expect(ids).toEqual([3]);
  });
});
