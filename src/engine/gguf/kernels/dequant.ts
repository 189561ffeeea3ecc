// Per-binding dequantization functions: `fn NAME(row, g) -> array<vec4<T>, 2>` returns the eight
// values g * 8 .. g * 8 + 7 of a row of the weight part bound as `binding`, as
// `NAME_at(row, g, NAME_scale(row, g))`: the scale pair of the values' block or sub-block decoded
// apart, so that a kernel reading a sub-block's groups in turn decodes it once for all of them.
import { GGMLType, typeName } from '../types';
import { packedRowWords } from '../repack';
import common from './common.wgsl?raw';
import f32 from './deq_f32.wgsl?raw';
import f16 from './deq_f16.wgsl?raw';
import bf16 from './deq_bf16.wgsl?raw';
import q8_0 from './deq_q8_0.wgsl?raw';
import q8_0Blocks from './deq_q8_0_blocks.wgsl?raw';
import q5_0Blocks from './deq_q5_0_blocks.wgsl?raw';
import q4_0Blocks from './deq_q4_0_blocks.wgsl?raw';
import kBlocksScales from './deq_k_blocks_scales.wgsl?raw';
import q4_kBlocks from './deq_q4_k_blocks.wgsl?raw';
import q5_kBlocks from './deq_q5_k_blocks.wgsl?raw';
import q6_kBlocks from './deq_q6_k_blocks.wgsl?raw';
import q3_kBlocks from './deq_q3_k_blocks.wgsl?raw';
import iq4_nlBlocks from './deq_iq4_nl_blocks.wgsl?raw';
import nibbleBlocks from './deq_nibble_blocks.wgsl?raw';
import iq4_xsBlocks from './deq_iq4_xs_blocks.wgsl?raw';
import q4_0 from './deq_q4_0.wgsl?raw';
import q5_0 from './deq_q5_0.wgsl?raw';
import q4_k from './deq_q4_k.wgsl?raw';
import q5_k from './deq_q5_k.wgsl?raw';
import kScales from './deq_k_scales.wgsl?raw';
import q6_k from './deq_q6_k.wgsl?raw';
import q4_1 from './deq_q4_1.wgsl?raw';
import q5_1 from './deq_q5_1.wgsl?raw';
import q2_k from './deq_q2_k.wgsl?raw';
import q3_k from './deq_q3_k.wgsl?raw';
import iq4_nl from './deq_iq4_nl.wgsl?raw';
import iq4_xs from './deq_iq4_xs.wgsl?raw';
import type { ComputePrecision } from '../buffer-plan';
import type { PackedMatrix } from '../layout';
import type { InputFormat } from './quantize-input';

/**
 * Each type's reader, the values of its blocks, and `scaleGroups`: the 8-value groups a kernel
 * reads per decoded scale pair. K-quants, whose scales take several loads and bit operations to
 * decode: 4 (32 values: a sub-block, or Q6_K's and Q3_K's two sub-blocks of 16, whose scales lie
 * in the same words), Q2_K 2 (a sub-block of 16 with its own scale and min); 1 elsewhere, where a
 * block's scale is one load and a lane reading one group at a time keeps neighbouring lanes on
 * neighbouring words.
 */
const SOURCES: Partial<Record<GGMLType, { src: string; values: number; scaleGroups: number }>> = {
  [GGMLType.F32]: { src: f32, values: 1, scaleGroups: 1 },
  [GGMLType.F16]: { src: f16, values: 1, scaleGroups: 1 },
  [GGMLType.BF16]: { src: bf16, values: 1, scaleGroups: 1 },
  [GGMLType.Q8_0]: { src: q8_0, values: 32, scaleGroups: 1 },
  [GGMLType.Q4_0]: { src: q4_0, values: 32, scaleGroups: 1 },
  [GGMLType.Q5_0]: { src: q5_0, values: 32, scaleGroups: 1 },
  [GGMLType.Q4_K]: { src: kScales + q4_k, values: 256, scaleGroups: 4 },
  [GGMLType.Q5_K]: { src: kScales + q5_k, values: 256, scaleGroups: 4 },
  [GGMLType.Q6_K]: { src: q6_k, values: 256, scaleGroups: 4 },
  [GGMLType.Q4_1]: { src: q4_1, values: 32, scaleGroups: 1 },
  [GGMLType.Q5_1]: { src: q5_1, values: 32, scaleGroups: 1 },
  [GGMLType.Q2_K]: { src: q2_k, values: 256, scaleGroups: 2 },
  [GGMLType.Q3_K]: { src: q3_k, values: 256, scaleGroups: 4 },
  [GGMLType.IQ4_NL]: { src: iq4_nl, values: 32, scaleGroups: 1 },
  [GGMLType.IQ4_XS]: { src: iq4_xs, values: 256, scaleGroups: 4 },
};

/**
 * The 8-value groups a product over weights of these types reads per decoded scale pair (see
 * `SOURCES`): the fewest any of them shares a pair over.
 */
export function scaleGroups(types: GGMLType[]): number {
  return Math.min(...types.map((t) => SOURCES[t]?.scaleGroups ?? 1));
}

/**
 * What every generated kernel starts with: the extensions it enables (f16 compute, subgroup
 * operations), the precision alias and shared helpers.
 */
export function prelude(precision: ComputePrecision, subgroups = false): string {
  const enables =
    (precision === 'f16' ? 'enable f16;\n' : '') + (subgroups ? 'enable subgroups;\n' : '');
  return `${enables}alias T = ${precision === 'f16' ? 'f16' : 'f32'};\n${common}`;
}

/**
 * A reader's source with its placeholders filled: $F its name, $W its binding, $ROW ($ROW4) the
 * words (vectors of four) of a packed row of `rowLength` values of `type`, $NB its blocks of
 * `blockValues`, $GROUP its rows' interleaving.
 */
function fillReader(
  source: string,
  name: string,
  binding: string,
  type: GGMLType,
  rowLength: number,
  blockValues: number,
  rowGroup: number,
): string {
  const words = packedRowWords(type, rowLength);
  return source
    .replaceAll('$GROUP', `${rowGroup}`)
    .replaceAll('$ROW4', `${words / 4}u`)
    .replaceAll('$ROW', `${words}u`)
    .replaceAll('$NB', `${rowLength / blockValues}u`)
    .replaceAll('$W', binding)
    .replaceAll('$F', name);
}

export function dequantFunction(
  name: string,
  binding: string,
  type: GGMLType,
  rowLength: number,
  rowGroup = 1,
): string {
  const entry = SOURCES[type];
  if (!entry) throw new Error(`no dequantization kernel for tensor type ${typeName(type)}`);
  if (rowLength % 8) throw new Error(`row length ${rowLength} is not a multiple of 8`);
  const reader = `${entry.src}
fn $F(row: u32, g: u32) -> array<vec4<T>, 2> {
  return $F_at(row, g, $F_scale(row, g));
}
`;
  return fillReader(reader, name, binding, type, rowLength, entry.values, rowGroup);
}

/**
 * The weight types a product with 8-bit inputs takes, the input format llama.cpp multiplies each
 * against (Q8_0 or Q8_K), and their block readers: `fn NAME(row, blk) -> Q8Block` with
 * `NAME_scales` and `NAME_cached`. Parts of `vectors` types are bound as vectors of four words,
 * the others as words.
 */
const Q8_BLOCK_SOURCES: Partial<
  Record<GGMLType, { src: string; format: InputFormat; vectors: boolean }>
> = {
  [GGMLType.Q8_0]: { src: q8_0Blocks, format: 'q8_0', vectors: true },
  [GGMLType.Q5_0]: { src: q5_0Blocks, format: 'q8_0', vectors: false },
  [GGMLType.Q4_0]: { src: q4_0Blocks + nibbleBlocks, format: 'q8_0', vectors: false },
  [GGMLType.Q4_K]: { src: kBlocksScales + q4_kBlocks, format: 'q8_k', vectors: true },
  [GGMLType.Q5_K]: { src: kBlocksScales + q5_kBlocks, format: 'q8_k', vectors: true },
  [GGMLType.Q6_K]: { src: q6_kBlocks, format: 'q8_k', vectors: true },
  [GGMLType.Q3_K]: { src: q3_kBlocks, format: 'q8_k', vectors: false },
  [GGMLType.IQ4_NL]: { src: iq4_nlBlocks + nibbleBlocks, format: 'q8_0', vectors: false },
  [GGMLType.IQ4_XS]: { src: iq4_xsBlocks, format: 'q8_k', vectors: false },
};

/**
 * The 8-bit input format a product over weights of these types reads: the one all of them are
 * multiplied against; none where a type has no block reader or the types mix formats.
 */
export function q8InputFormat(types: GGMLType[]): InputFormat | undefined {
  const formats = new Set(types.map((t) => Q8_BLOCK_SOURCES[t]?.format));
  const [format] = formats;
  return formats.size === 1 ? format : undefined;
}

/** The weight types multiplied against inputs of `format` (all of them without). */
export function q8InputTypes(format?: InputFormat): GGMLType[] {
  return Object.entries(Q8_BLOCK_SOURCES)
    .filter(([, entry]) => format === undefined || entry.format === format)
    .map(([type]) => Number(type) as GGMLType);
}

/** `q8InputTypes`, by name. */
export function q8InputTypeNames(format?: InputFormat): string[] {
  return q8InputTypes(format).map(typeName);
}

/** Block reader of one part for products with 8-bit inputs (see `Q8_BLOCK_SOURCES`). */
function q8BlockFunction(
  name: string,
  binding: string,
  type: GGMLType,
  rowLength: number,
  rowGroup = 1,
): string {
  const entry = Q8_BLOCK_SOURCES[type];
  if (!entry) {
    throw new Error(
      `8-bit inputs take ${Object.keys(Q8_BLOCK_SOURCES)
        .map((t) => typeName(Number(t)))
        .join(', ')} weights, not ${typeName(type)}`,
    );
  }
  const blockValues = entry.format === 'q8_k' ? 256 : 32;
  if (rowLength % blockValues) {
    throw new Error(`row length ${rowLength} is not a multiple of ${blockValues}`);
  }
  return fillReader(entry.src, name, binding, type, rowLength, blockValues, rowGroup);
}

export interface WeightPart {
  type: GGMLType;
  rowStart: number;
  rows: number;
  /** Rows interleaved per group (Q8_0 on CPU-backed adapters, layout.ts); absent: 1. */
  rowGroup?: number;
}

/**
 * The constants that, with the row length, fix the dequantization source `partedDequant` writes
 * for `parts`, so that a kernel variant's key (name and constants) names it: their type, their
 * rows' interleaving, how many and the rows of each, suffixed by `suffix`. The parts must be
 * equal runs of rows of one type (the last may be shorter), as the layout splits a tensor.
 */
export function partConstants(parts: WeightPart[], suffix = ''): Record<string, number> {
  const { type, rows, rowGroup = 1 } = parts[0];
  const uneven = parts.some(
    (p, i) =>
      p.type !== type ||
      (p.rowGroup ?? 1) !== rowGroup ||
      p.rowStart !== i * rows ||
      (i < parts.length - 1 && p.rows !== rows),
  );
  if (uneven) throw new Error('weight parts must be equal runs of rows of one type');
  return {
    [`TYPE${suffix}`]: type,
    [`PARTS${suffix}`]: parts.length,
    [`PART_ROWS${suffix}`]: rows,
    [`ROW_GROUP${suffix}`]: rowGroup,
  };
}

/** A packed matrix's parts as the kernels take them. */
export function weightParts(m: PackedMatrix): WeightPart[] {
  return m.parts.map((p) => ({
    type: m.type,
    rowStart: p.rowStart,
    rows: p.rows,
    rowGroup: m.rowGroup,
  }));
}

/**
 * A function `fn NAME(row, g)` over a tensor split into parts bound as `${prefix}0`, `${prefix}1`...,
 * beside `NAME_scale(row, g)` and `NAME_at(row, g, scale)`: each picks the part holding `row` (a
 * workgroup-uniform branch). With `q8` (products with 8-bit
 * inputs, parts of types `q8InputFormat` gives one format) it is `fn NAME(row, blk)`, returning block `blk`
 * as int8 values (`Q8Block`), beside `NAME_scales(row, blk)` and `NAME_cached(row, blk, scales)`,
 * which read a vector of eight blocks' scales once for all of them (deq_q8_0_blocks.wgsl).
 */
export function partedDequant(
  name: string,
  bindingPrefix: string,
  firstBinding: number,
  parts: WeightPart[],
  rowLength: number,
  q8 = false,
): string {
  const fns = parts.map((p, i) => {
    const fn = `${name}_p${i}`;
    const binding = `${bindingPrefix}${firstBinding + i}`;
    return q8
      ? q8BlockFunction(fn, binding, p.type, rowLength, p.rowGroup)
      : dequantFunction(fn, binding, p.type, rowLength, p.rowGroup);
  });
  // fn `name${suffix}`(row, g, ...rest) calling the part's own `_p${i}${suffix}`.
  const picker = (suffix: string, params: string, args: string, returns: string) => {
    const call = (i: number, rowStart: number) =>
      `${name}_p${i}${suffix}(row - ${rowStart}u, g${args})`;
    const branches = parts
      .map((p, i) =>
        i === parts.length - 1
          ? `  return ${call(i, p.rowStart)};`
          : `  if (row < ${p.rowStart + p.rows}u) { return ${call(i, p.rowStart)}; }`,
      )
      .join('\n');
    return `fn ${name}${suffix}(row: u32, g: u32${params}) -> ${returns} {\n${branches}\n}\n`;
  };
  if (!q8) {
    return [
      ...fns,
      picker('', '', '', 'array<vec4<T>, 2>'),
      picker('_scale', '', '', 'vec2<T>'),
      picker('_at', ', s: vec2<T>', ', s', 'array<vec4<T>, 2>'),
    ].join('\n');
  }
  // 8-bit blocks carry their scales: `_scale` and `_at` only keep the kernels' loops uniform.
  const uniform = `fn ${name}_scale(row: u32, g: u32) -> vec2<T> {
  return vec2<T>();
}

fn ${name}_at(row: u32, g: u32, s: vec2<T>) -> Q8Block {
  return ${name}(row, g);
}
`;
  return [
    ...fns,
    picker('', '', '', 'Q8Block'),
    uniform,
    picker('_scales', '', '', 'vec4u'),
    picker('_cached', ', scales: vec4u', ', scales', 'Q8Block'),
  ].join('\n');
}

/**
 * The bindings of `parts` as words; with `q8` (8-bit-input products) parts of the types whose block
 * reader loads vectors (Q8_BLOCK_SOURCES) as vectors of four words.
 */
export function weightBindings(
  prefix: string,
  first: number,
  parts: WeightPart[],
  q8 = false,
): string {
  return parts
    .map((p, i) => {
      const element = q8 && Q8_BLOCK_SOURCES[p.type]?.vectors ? 'vec4u' : 'u32';
      return `@group(0) @binding(${first + i}) var<storage, read> ${prefix}${first + i}: array<${element}>;`;
    })
    .join('\n');
}
