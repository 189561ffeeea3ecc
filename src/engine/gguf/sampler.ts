// The random numbers the GPU sampler draws with: a pure function of (seed, step), so a run with
// the same seed, prompt and settings reproduces token for token, whatever happened before it.
import type { SamplingOptions } from '../engine';

/** A uniform number in [0, 1) from a splitmix32-style hash of the seed and the step. */
export function seededUniform(seed: number, step: number): number {
  let x = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  // 24 bits, so the value is exact in f32 and strictly below 1.
  return (x >>> 8) / 16777216;
}

export function isGreedy(sampling: SamplingOptions): boolean {
  return sampling.temperature <= 0;
}
