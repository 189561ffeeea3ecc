// The hyperparameters the attention kernels' tests build on: a small llama-like model with 6
// query heads over 2 KV heads of 64 values, no window and no soft-cap, each test changing what it
// exercises.
import type { ModelHparams } from '../../../src/engine/gguf/types';

export function attentionHparams(changes: Partial<ModelHparams> = {}): ModelHparams {
  const head = changes.keyLength ?? 64;
  return {
    architecture: 'llama',
    name: 'test',
    blockCount: 1,
    embeddingLength: 256,
    feedForwardLength: 512,
    headCount: 6,
    headCountKv: 2,
    keyLength: head,
    valueLength: head,
    contextLength: 4096,
    vocabSize: 10,
    rmsEpsilon: 1e-6,
    ropeTheta: 10000,
    ropeDims: head,
    ropePairing: 'adjacent',
    ropeScaling: { type: 'none', factor: 1 },
    ropeAttnFactor: 1,
    tiedEmbeddings: false,
    slidingWindow: 0,
    slidingPeriod: 0,
    ropeThetaLocal: 10000,
    attentionSoftCap: 0,
    finalSoftCap: 0,
    ...changes,
  };
}
