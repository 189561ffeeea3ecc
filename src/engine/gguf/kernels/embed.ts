// The token embedding lookup (embed.wgsl) over a table split by rows into parts of one type.
import type { ComputePrecision } from '../buffer-plan';
import { partConstants, partedDequant, prelude, weightBindings, type WeightPart } from './dequant';
import { kernel, type KernelVariant } from './pipeline';
import { f32Constant } from './preprocess';
import embedSource from './embed.wgsl?raw';

export function embedKernel(
  precision: ComputePrecision,
  parts: WeightPart[],
  rowLength: number,
  vocabSize: number,
  scale = 1,
): KernelVariant {
  const dequant = `${prelude(precision)}${weightBindings('w', 3, parts)}
${partedDequant('deq', 'w', 3, parts, rowLength)}`;
  return kernel('embed', dequant + embedSource, {
    F16: precision === 'f16',
    ...partConstants(parts),
    ROW: rowLength,
    VOCAB: vocabSize,
    SCALED: scale !== 1,
    ...(scale !== 1 && { SCALE: f32Constant(scale) }),
  });
}
