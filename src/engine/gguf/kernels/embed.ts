// The token embedding lookup (embed.wgsl) over a table split by rows into parts of one type.
import type { ComputePrecision } from '../buffer-plan';
import { partedDequant, prelude, weightBindings, type WeightPart } from './dequant';
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
  // The dequantization source below is a function of these constants only when every part but
  // the last holds PART_ROWS rows of TYPE, as the layout splits a table.
  const { type, rows: partRows, rowGroup = 1 } = parts[0];
  const uneven = parts.some(
    (p, i) =>
      p.type !== type ||
      (p.rowGroup ?? 1) !== rowGroup ||
      p.rowStart !== i * partRows ||
      (i < parts.length - 1 && p.rows !== partRows),
  );
  if (uneven) throw new Error('embedding table parts must be equal runs of rows of one type');
  const dequant = `${prelude(precision)}${weightBindings('w', 3, parts.length)}
${partedDequant('deq', 'w', 3, parts, rowLength)}`;
  return kernel('embed', dequant + embedSource, {
    F16: precision === 'f16',
    TYPE: type,
    PARTS: parts.length,
    PART_ROWS: partRows,
    ROW_GROUP: rowGroup,
    ROW: rowLength,
    VOCAB: vocabSize,
    SCALED: scale !== 1,
    ...(scale !== 1 && { SCALE: f32Constant(scale) }),
  });
}
