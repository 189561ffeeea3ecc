// The fused dequantize + matrix-vector kernel (matvec.wgsl) specialised for one product: its
// weights, mode and fusions (q/k/v segments, bias, residual add, gate/up with SwiGLU or GeGLU,
// soft-cap, last token only, llama.cpp's activation rounding) and its variant (lanes per row,
// workgroup size, tokens per read of a row, subgroup reductions), so an autotuner can choose
// among variants of the same product.
import type { ComputePrecision } from '../buffer-plan';
import {
  partConstants,
  partedDequant,
  prelude,
  q8InputFormat,
  q8InputTypeNames,
  scaleGroups,
  weightBindings,
  type WeightPart,
} from './dequant';
import { kernel, type KernelVariant } from './pipeline';
import { f32Constant } from './preprocess';
import { GGMLType, typeName } from '../types';
import matvecSource from './matvec.wgsl?raw';
import productInputSource from './product-input.wgsl?raw';
import { inputQ8Constants, type InputFormat } from './quantize-input';

export interface MatmulSegment {
  parts: WeightPart[];
  rows: number;
  /** Column of the output row where this segment's rows start. */
  outColumn: number;
  /** Index in the vector region of this segment's bias. */
  biasIndex?: number;
  /** The segment's first row in its tensor (gate and up halves of one fused `ffn_up`). */
  rowOffset?: number;
}

export interface MatmulSpec {
  precision: ComputePrecision;
  /** Values per input row (the weight row length). */
  inputLength: number;
  /** f32 values between consecutive tokens of the input (a multiple of 4). */
  inputStride: number;
  outputStride: number;
  /**
   * plain: y = W x (+ bias); residual: y += W x; swiglu: y = silu(Wg x) * (Wu x); geglu:
   * y = gelu_tanh(Wg x) * (Wu x).
   */
  mode: 'plain' | 'residual' | 'swiglu' | 'geglu';
  segments: MatmulSegment[];
  /** plain mode: y = cap * tanh(y / cap) (Gemma 2's final logits); 0 or absent: none. */
  softCap?: number;
  /** Only the pass's last token (the output layer needs the last position's logits alone). */
  lastTokenOnly?: boolean;
  /** Threads that share one output row (dividing the workgroup; a power of two with subgroups). */
  lanesPerRow?: number;
  /** Threads per workgroup (default MATMUL_WORKGROUP); WG / lanesPerRow rows per workgroup. */
  workgroupSize?: number;
  /**
   * Tokens accumulated per read of a weight row: 1 for decode (a one-token body, control flow
   * uniform), MATMUL_TOKENS (the default) for passes of several tokens.
   */
  tokens?: 1 | 4;
  /**
   * Reduce the lanes of a row through subgroup shuffles; only where the device has `subgroups`
   * and its smallest subgroup holds lanesPerRow threads (see `subgroupLanesFit`).
   */
  subgroups?: boolean;
  /** Rows each thread holds in the one-token body (`ROWS_PER_THREAD`), sharing its reads of the input. */
  rowsPerThread?: number;
  /**
   * Round the input as llama.cpp's CPU backend does before each product (see `activationRounding`),
   * so logits agree with it closely; off computes with the f32 input as is.
   */
  roundActivations?: boolean;
  /**
   * Read the input quantized to 8 bits (quantize-input.ts) and sum with integer dot products;
   * every segment's weights must take the same input format (`q8InputFormat`: Q8_0 for Q8_0, Q5_0
   * and Q4_0, Q8_K for Q3_K to Q6_K). It carries llama.cpp's rounding of such inputs itself.
   */
  q8Input?: boolean;
  /**
   * The one-token body reads each 8-bit input block, and each vector of a block's scales, once
   * per subgroup, the words spread over this many lanes and shuffled to the others; and each
   * vector of weight scales once per eight blocks (CPU-backed adapters, where every lane's load
   * costs its own instructions). Needs q8Input, one token, one lane and one row per thread, and
   * subgroups of at least that many invocations (`sharedInputLanes`).
   */
  sharedInput?: SharedInputLanes;
}

/** Lanes that hold a shared input's words between them: eight words in one or two each. */
export type SharedInputLanes = 4 | 8;

/** The lanes a device with these subgroups shares one-token inputs over; undefined: it cannot. */
export function sharedInputLanes(
  hasSubgroups: boolean,
  subgroupMinSize: number | undefined,
): SharedInputLanes | undefined {
  if (!hasSubgroups || subgroupMinSize === undefined || subgroupMinSize < 4) return undefined;
  return subgroupMinSize >= 8 ? 8 : 4;
}

/**
 * How llama.cpp's CPU backend converts the input of a matrix product for each weight type: to
 * f16 or bf16 for those weights, to 8-bit blocks of 32 with an f16 scale (Q8_0) for the 32-value
 * quants, to 8-bit blocks of 256 with an f32 scale (Q8_K) for the K-quants.
 */
export type ActivationRounding = 'none' | 'f16' | 'bf16' | 'q8_0' | 'q8_k';

export function activationRounding(type: GGMLType): ActivationRounding {
  switch (type) {
    case GGMLType.F16:
      return 'f16';
    case GGMLType.BF16:
      return 'bf16';
    case GGMLType.Q8_0:
    case GGMLType.Q4_0:
    case GGMLType.Q5_0:
    case GGMLType.IQ4_NL:
      return 'q8_0';
    // llama.cpp rounds these to Q8_1, whose values are Q8_0's; its f16 block sum only enters
    // through the weights' minimum.
    case GGMLType.Q4_1:
    case GGMLType.Q5_1:
      return 'q8_0';
    case GGMLType.Q2_K:
    case GGMLType.Q3_K:
    case GGMLType.Q4_K:
    case GGMLType.Q5_K:
    case GGMLType.Q6_K:
    case GGMLType.IQ4_XS:
      return 'q8_k';
    default:
      return 'none';
  }
}

export const MATMUL_WORKGROUP = 64;
/** Tokens accumulated per read of a weight row in passes of several tokens. */
export const MATMUL_TOKENS = 4;
export const MAX_WORKGROUPS_X = 65535;
export const DEFAULT_LANES_PER_ROW = 16;
/**
 * The rows per thread the one-token body can hold (matvec.wgsl: the components of one vec4
 * accumulator; 8 and 16 rows measured no faster in a whole decode on lavapipe, docs/performance.md).
 */
export const ROWS_PER_THREAD: readonly number[] = [1, 2, 4];

const MODES = { plain: 0, residual: 1, swiglu: 2, geglu: 3 } as const;
const ROUNDINGS: Record<ActivationRounding, number> = {
  none: 0,
  f16: 1,
  bf16: 2,
  q8_0: 3,
  q8_k: 4,
};

function gated(spec: MatmulSpec): boolean {
  return spec.mode === 'swiglu' || spec.mode === 'geglu';
}

export function matmulRows(spec: MatmulSpec): number {
  return gated(spec) ? spec.segments[0].rows : spec.segments.reduce((a, s) => a + s.rows, 0);
}

export function rowWorkgroups(rows: number): [number, number] {
  return [Math.min(rows, MAX_WORKGROUPS_X), Math.ceil(rows / MAX_WORKGROUPS_X)];
}

function rowsPerWorkgroup(spec: MatmulSpec): number {
  const threadRows =
    (spec.workgroupSize ?? MATMUL_WORKGROUP) / (spec.lanesPerRow ?? DEFAULT_LANES_PER_ROW);
  return threadRows * (spec.rowsPerThread ?? 1);
}

export function matmulWorkgroups(spec: MatmulSpec): [number, number] {
  return rowWorkgroups(Math.ceil(matmulRows(spec) / rowsPerWorkgroup(spec)));
}

/**
 * Whether a row's lanes can meet through subgroup shuffles on a device: it has the feature, and
 * its smallest subgroup (a power of two) holds a power-of-two number of lanes, so the lanes of a
 * row never straddle two subgroups.
 */
export function subgroupLanesFit(
  lanesPerRow: number,
  hasSubgroups: boolean,
  subgroupMinSize: number | undefined,
): boolean {
  const powerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;
  return (
    hasSubgroups &&
    lanesPerRow > 1 &&
    powerOfTwo(lanesPerRow) &&
    subgroupMinSize !== undefined &&
    lanesPerRow <= subgroupMinSize
  );
}

/** The knobs of the one-token kernel an autotuner chooses among. */
export type DecodeVariant = Required<
  Pick<MatmulSpec, 'lanesPerRow' | 'workgroupSize' | 'rowsPerThread' | 'subgroups'>
>;

/** The one-token knobs a load chose for the layers' products (absent: one row, 64 threads). */
export type DecodeShape = Partial<
  Pick<MatmulSpec, 'lanesPerRow' | 'rowsPerThread' | 'workgroupSize'>
>;

/** Rows per thread of the output layer's one-token kernel on CPU-backed adapters (see below). */
export const OUTPUT_ROWS_PER_THREAD = 4;

/**
 * The one-token variant for a device without a forced choice: the load's lanes per row, rows per
 * thread and workgroup size, meeting through subgroups where they fit. The output layer of a
 * CPU-backed adapter with subgroups (fewer lanes per row than a subgroup there; real GPUs run a
 * subgroup's worth or more) reads its large-vocabulary matrix with a subgroup's worth of lanes (up
 * to 8) on each row, so one SIMD gather reads neighbouring words, and OUTPUT_ROWS_PER_THREAD rows
 * per thread sharing each input read: the fastest of the variants timed on lavapipe
 * (docs/performance.md). The output layer's products need not reduce as its several-token kernel
 * does: no later token reads its logits.
 */
export function defaultDecodeVariant(
  shape: DecodeShape,
  hasSubgroups: boolean,
  subgroupMinSize: number | undefined,
  outputLayer = false,
): DecodeVariant {
  const lanes = shape.lanesPerRow ?? DEFAULT_LANES_PER_ROW;
  const simd = Math.min(subgroupMinSize ?? 1, 8);
  if (outputLayer && lanes < simd && hasSubgroups) {
    return {
      lanesPerRow: simd,
      workgroupSize: MATMUL_WORKGROUP,
      rowsPerThread: OUTPUT_ROWS_PER_THREAD,
      subgroups: true,
    };
  }
  return {
    lanesPerRow: lanes,
    workgroupSize: shape.workgroupSize ?? MATMUL_WORKGROUP,
    rowsPerThread: shape.rowsPerThread ?? 1,
    subgroups: subgroupLanesFit(lanes, hasSubgroups, subgroupMinSize),
  };
}

/**
 * The format of a product's 8-bit input (Q8_0 where it reads f32, which no kernel then reads): the
 * one all its weights are multiplied against.
 */
export function productInputFormat(spec: MatmulSpec): InputFormat {
  if (!spec.q8Input) return 'q8_0';
  const types = spec.segments.flatMap((s) => s.parts.map((p) => p.type));
  const format = q8InputFormat(types);
  if (!format) {
    throw new Error(
      `8-bit inputs take ${q8InputTypeNames('q8_0').join(', ')} weights (Q8_0 inputs) or ` +
        `${q8InputTypeNames('q8_k').join(', ')} weights (Q8_K inputs), all of one kind, not ` +
        [...new Set(types.map(typeName))].join(', '),
    );
  }
  return format;
}

function checkSpec(spec: MatmulSpec, lanes: number, workgroup: number): void {
  const K = spec.inputLength;
  if (K % 8 || spec.inputStride % 4) {
    throw new Error(`matmul input length ${K} and stride ${spec.inputStride} must suit vec4 reads`);
  }
  if (gated(spec) ? spec.segments.length !== 2 : spec.segments.length > 3) {
    throw new Error(
      gated(spec)
        ? 'a gated FFN matmul takes exactly two segments: gate and up'
        : `a matmul takes at most three segments, not ${spec.segments.length}`,
    );
  }
  if (!(lanes >= 1 && workgroup % lanes === 0)) {
    throw new Error(`${lanes} lanes per row do not divide a workgroup of ${workgroup} threads`);
  }
  const rowsPerThread = spec.rowsPerThread ?? 1;
  if (!ROWS_PER_THREAD.includes(rowsPerThread) || (rowsPerThread > 1 && spec.tokens !== 1)) {
    throw new Error(
      `${rowsPerThread} rows per thread: the one-token body holds ${ROWS_PER_THREAD.join(', ')}, the others 1`,
    );
  }
  if (spec.subgroups && (lanes & (lanes - 1)) !== 0) {
    throw new Error(`subgroup reductions need a power-of-two number of lanes, not ${lanes}`);
  }
  if (
    spec.sharedInput !== undefined &&
    !(spec.q8Input && spec.tokens === 1 && lanes === 1 && rowsPerThread === 1)
  ) {
    throw new Error(
      'a shared input is read by the one-token body of an 8-bit-input product with one lane and ' +
        'one row per thread',
    );
  }
}

export function matmulKernel(spec: MatmulSpec): KernelVariant {
  const K = spec.inputLength;
  const lanes = spec.lanesPerRow ?? DEFAULT_LANES_PER_ROW;
  const workgroup = spec.workgroupSize ?? MATMUL_WORKGROUP;
  checkSpec(spec, lanes, workgroup);
  const isGated = gated(spec);
  const rowsPerGroup = rowsPerWorkgroup(spec);
  let start = 0;
  const starts = spec.segments.map((s) => {
    const first = start;
    start += s.rows;
    return first;
  });
  const q8 = spec.q8Input ?? false;
  const format = productInputFormat(spec);
  const rounding = spec.segments.map((seg) =>
    spec.roundActivations && !q8 ? activationRounding(seg.parts[0].type) : 'none',
  );
  const segment = (i: number) => spec.segments[i] as MatmulSegment | undefined;
  const cap = spec.softCap ?? 0;
  const subgroups = spec.subgroups ?? false;
  const shared = spec.sharedInput;
  let next = 4;
  const dequant = spec.segments.map((s, i) => {
    const fn = partedDequant(`deq_s${i}`, 'w', next, s.parts, K, q8);
    next += s.parts.length;
    return fn;
  });
  const source = [
    prelude(spec.precision, subgroups || shared !== undefined),
    productInputSource,
    weightBindings(
      'w',
      4,
      spec.segments.flatMap((s) => s.parts),
      q8,
    ),
    ...dequant,
    matvecSource,
  ].join('\n');
  return kernel('matvec', source, {
    F16: spec.precision === 'f16',
    ...Object.assign({}, ...spec.segments.map((s, i) => partConstants(s.parts, `${i}`))),
    K,
    XS: spec.inputStride / 4,
    OUT_STRIDE: spec.outputStride,
    ROWS: matmulRows(spec),
    WG: workgroup,
    LANES: lanes,
    TOKENS: spec.tokens ?? MATMUL_TOKENS,
    MAX_WORKGROUPS_X,
    MODE: MODES[spec.mode],
    SEGMENTS: spec.segments.length,
    SEG1_START: isGated ? 0 : (starts[1] ?? 0),
    SEG2_START: isGated ? 0 : (starts[2] ?? 0),
    UNIFORM_SEGMENTS: starts.every((b) => b % rowsPerGroup === 0),
    GATE_OFFSET: isGated ? (spec.segments[0].rowOffset ?? 0) : 0,
    UP_OFFSET: isGated ? (spec.segments[1].rowOffset ?? 0) : 0,
    ...Object.fromEntries(
      [0, 1, 2].flatMap((i) => [
        [`OUT${i}`, segment(i)?.outColumn ?? 0],
        [`HAS_BIAS${i}`, segment(i)?.biasIndex !== undefined],
        [`BIAS${i}`, segment(i)?.biasIndex ?? 0],
        [`ROUND${i}`, ROUNDINGS[rounding[i] ?? 'none']],
      ]),
    ),
    ROUNDING: rounding.some((r) => r !== 'none'),
    ROUND_Q8_0: rounding.includes('q8_0'),
    ROUND_Q8_K: rounding.includes('q8_k'),
    Q80_BLOCKS: K / 32,
    Q8K_BLOCKS: Math.ceil(K / 256),
    HAS_SOFT_CAP: cap > 0,
    SOFT_CAP: f32Constant(cap),
    LAST_TOKEN: spec.lastTokenOnly ?? false,
    SUBGROUPS: subgroups,
    ROWS_PER_THREAD: spec.rowsPerThread ?? 1,
    SCALE_GROUPS: q8 ? 1 : scaleGroups(spec.segments.flatMap((s) => s.parts.map((p) => p.type))),
    Q8_INPUT: q8,
    SHARED_INPUT: shared !== undefined,
    SHARED_LANES: shared ?? 0,
    ...inputQ8Constants(q8 ? K : 0, format),
  });
}
