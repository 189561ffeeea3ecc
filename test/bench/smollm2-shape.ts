// SmolLM2-135M's shape (30 layers, 576 wide, 9 heads over 3 KV heads, vocabulary 49152) with random
// Q8_0 weights: the model the engine benches measure on.
import { GGMLType } from '../../src/engine/gguf/types.ts';
import type { FixtureSpec } from '../fixtures/gguf/models.ts';

export const SMOLLM2_135M_SHAPE: FixtureSpec = {
  id: 'smollm2-135m-shape-q8_0',
  architecture: 'llama',
  tokenizer: 'smollm',
  mix: GGMLType.Q8_0,
  embd: 576,
  ff: 1536,
  heads: 9,
  headsKv: 3,
  layers: 30,
  tied: false,
  seed: 135,
};
