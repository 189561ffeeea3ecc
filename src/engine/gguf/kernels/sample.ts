// The GPU sampler (sample.wgsl) as its dispatches: the stages in order, each over all slices of
// the vocabulary or one workgroup. A greedy choice is the first two stages over one slice holding
// the whole vocabulary: one pass over the logits in one workgroup costs less than a second
// dispatch over many on every adapter measured (docs/performance.md).
import { HISTORY_RING, SAMPLE_SLICE, sampleSlices } from '../buffer-plan';
import { kernel, type KernelVariant } from './pipeline';
import sampleSource from './sample.wgsl?raw';

/** Radix levels per threshold search (a byte of the 32-bit key each). */
const LEVELS = 4;

/** Bits of each fixed-point half of a mass: a slice's sum of either half stays below 2^31. */
function massBits(slice: number): number {
  return Math.min(20, 31 - Math.ceil(Math.log2(slice)));
}

export interface SampleStage {
  variant: KernelVariant;
  workgroups: number;
}

/** The sampler's stages in dispatch order, for sampling or for a greedy choice. */
export function sampleStages(vocabSize: number, greedy = false): SampleStage[] {
  const slices = greedy ? 1 : sampleSlices(vocabSize);
  const stage = (n: number, workgroups: number): SampleStage => ({
    variant: kernel('sample', sampleSource, {
      V: vocabSize,
      RING: HISTORY_RING,
      SLICE: greedy ? vocabSize : SAMPLE_SLICE,
      SLICES: slices,
      MASS_BITS: massBits(SAMPLE_SLICE),
      STAGE: n,
    }),
    workgroups,
  });
  if (greedy) return [stage(0, 1), stage(1, 1)];
  const search = Array.from({ length: 2 * LEVELS }, () => [stage(3, slices), stage(4, 1)]).flat();
  return [
    stage(0, slices),
    stage(1, 1),
    stage(2, slices),
    ...search,
    stage(5, slices),
    stage(6, 1),
  ];
}
