// The prefill matrix-matrix kernel (gemm.wgsl): the same products and epilogues as the
// matrix-vector kernels of matmul.ts, over a tile of tokens at a time.
import { matmulRows, productInputFormat, type MatmulSpec, type SharedInputLanes } from './matmul';
import { partConstants, partedDequant, prelude, scaleGroups, weightBindings } from './dequant';
import { kernel, type KernelVariant } from './pipeline';
import gemmSource from './gemm.wgsl?raw';
import productInputSource from './product-input.wgsl?raw';
import { inputQ8Constants } from './quantize-input';

/** A workgroup's tile: tokens x weight rows, stepping TILE_K input values at a time. */
export interface GemmTiles {
  /** A multiple of 4 (each thread accumulates 4 tokens). */
  tokens: number;
  /**
   * A multiple of the rows each thread accumulates: 8 staged, 16 unstaged, all of them with shared
   * weights (in gated modes each 8 are 4 gate and the same 4 up rows).
   */
  rows: number;
  /** A multiple of 8 (weights are dequantized 8 at a time); the staging step. */
  k: number;
  /**
   * Stage the tile's weights and inputs in workgroup memory (GPUs); without, each thread reads
   * its own 16 rows and 4 tokens straight from the buffers (CPU-backed adapters, which load
   * workgroup memory lane by lane like any buffer).
   */
  staged: boolean;
  /**
   * Unstaged only, on devices whose subgroups hold at least this many invocations: the workgroup
   * is one subgroup of this many threads, each with its own 4 tokens and all the tile's rows (a
   * multiple of 16), and each weight step is read by one lane and shuffled to the others.
   */
  sharedWeights?: SharedInputLanes;
}

export const DEFAULT_GEMM_TILES: GemmTiles = {
  tokens: 32,
  rows: 64,
  k: 32,
  staged: true,
};

/**
 * CPU-backed adapters: a 4-token x 16-row block per thread read straight from the buffers (on
 * lavapipe a kernel's cost is its loads, docs/performance.md); 32 x 64 tiles give a 32-token pass
 * several workgroups per product for the CPU's threads.
 */
export const CPU_GEMM_TILES: GemmTiles = { tokens: 32, rows: 64, k: 8, staged: false };

/**
 * CPU-backed adapters with subgroups of at least 4 or 8 invocations: a workgroup of one subgroup,
 * each thread 4 tokens of the tile's 64 rows, each weight step read by one lane for all, each
 * token's input read and unpacked once per 64 rows (lavapipe's layer products 1.7-2.1x faster
 * than `CPU_GEMM_TILES`, docs/performance.md).
 */
export const SHARED_WEIGHT_TILES: Record<SharedInputLanes, GemmTiles> = {
  4: { tokens: 16, rows: 64, k: 8, staged: false, sharedWeights: 4 },
  8: { tokens: 32, rows: 64, k: 8, staged: false, sharedWeights: 8 },
};

/** Workgroup storage the spec's WebGPU guarantees every device (bytes). */
const GUARANTEED_WORKGROUP_STORAGE = 16384;
/** Invocations per workgroup every device allows. */
const GUARANTEED_INVOCATIONS = 256;

const MODES = { plain: 0, residual: 1, swiglu: 2, geglu: 3 } as const;

function gated(spec: MatmulSpec): boolean {
  return spec.mode === 'swiglu' || spec.mode === 'geglu';
}

function rowsPerThread(tiles: GemmTiles): number {
  if (tiles.sharedWeights) return tiles.rows;
  return tiles.staged ? 8 : 16;
}

export function gemmThreads(tiles: GemmTiles): number {
  return (tiles.tokens / 4) * (tiles.rows / rowsPerThread(tiles));
}

/** Workgroups of a pass over `ntok` tokens: row tiles along x, token tiles along y. */
export function gemmWorkgroups(
  spec: MatmulSpec,
  ntok: number,
  tiles = DEFAULT_GEMM_TILES,
): [number, number] {
  const rowsPerTile = gated(spec) ? tiles.rows / 2 : tiles.rows;
  return [Math.ceil(matmulRows(spec) / rowsPerTile), Math.ceil(ntok / tiles.tokens)];
}

function checkTiles(tiles: GemmTiles, precision: MatmulSpec['precision']): void {
  const { tokens, rows, k } = tiles;
  const perThread = rowsPerThread(tiles);
  if (!(tokens >= 4 && tokens % 4 === 0 && rows >= perThread && rows % perThread === 0)) {
    throw new Error(
      `GEMM tiles ${tokens}x${rows} must be multiples of 4 tokens and of ${perThread} rows ` +
        `(the rows a thread holds ${tiles.staged ? 'staged' : 'unstaged'})`,
    );
  }
  if (!(k >= 8 && k % 8 === 0)) {
    throw new Error(`the GEMM's staging step ${k} must be a multiple of 8 input values`);
  }
  const lanes = tiles.sharedWeights;
  if (lanes !== undefined && (tiles.staged || rows % 16 !== 0 || tokens !== 4 * lanes)) {
    throw new Error(
      `weights shared over ${lanes} lanes take unstaged tiles of 16n rows and ${4 * lanes} ` +
        `tokens (one subgroup, 4 tokens a thread), not ${tokens}x${rows} ` +
        (tiles.staged ? 'staged' : 'unstaged'),
    );
  }
  const threads = gemmThreads(tiles);
  const bytes = tiles.staged ? k * (tokens + rows) * (precision === 'f16' ? 2 : 4) : 0;
  if (threads > GUARANTEED_INVOCATIONS || bytes > GUARANTEED_WORKGROUP_STORAGE) {
    throw new Error(
      `GEMM tiles ${tokens}x${rows}x${k} need ${threads} threads and ${bytes} bytes of workgroup ` +
        `memory; every device allows ${GUARANTEED_INVOCATIONS} and ${GUARANTEED_WORKGROUP_STORAGE}`,
    );
  }
}

export function gemmKernel(spec: MatmulSpec, tiles = DEFAULT_GEMM_TILES): KernelVariant {
  const K = spec.inputLength;
  if (K % 8 || spec.inputStride % 4) {
    throw new Error(`GEMM input length ${K} and stride ${spec.inputStride} must suit vec4 reads`);
  }
  // 8-bit inputs carry llama.cpp's rounding of a Q8_0 product's input themselves.
  if ((spec.roundActivations && !spec.q8Input) || spec.softCap || spec.lastTokenOnly) {
    throw new Error(
      'the GEMM kernel takes an unrounded input and writes every token: activation rounding, ' +
        'soft-caps and last-token products run in matmul.ts',
    );
  }
  const isGated = gated(spec);
  if (isGated ? spec.segments.length !== 2 : spec.segments.length > 3) {
    throw new Error(
      isGated
        ? 'a gated FFN product takes exactly two segments: gate and up'
        : `a GEMM takes at most three segments, not ${spec.segments.length}`,
    );
  }
  checkTiles(tiles, spec.precision);
  const q8 = spec.q8Input ?? false;
  const format = productInputFormat(spec);
  if (q8 && tiles.staged) {
    throw new Error('8-bit inputs run in the unstaged GEMM only (CPU-backed adapters)');
  }
  const segments = spec.segments;
  const starts: number[] = [];
  segments.reduce((start, s) => (starts.push(start), start + s.rows), 0);
  const stepGroups = tiles.k / 8;
  const constants: Record<string, number | boolean> = {
    F16: spec.precision === 'f16',
    TILE_TOKENS: tiles.tokens,
    TILE_ROWS: tiles.rows,
    TILE_K: tiles.k,
    STAGED: tiles.staged,
    ROWS_PER_THREAD: rowsPerThread(tiles),
    K,
    XS: spec.inputStride / 4,
    OUT_STRIDE: spec.outputStride,
    ROWS: matmulRows(spec),
    MODE: MODES[spec.mode],
    SEGMENTS: segments.length,
    // Units of groups sharing a scale pair that divide the staging step (both powers of two).
    SCALE_GROUPS: Math.min(
      scaleGroups(segments.flatMap((s) => s.parts.map((p) => p.type))),
      stepGroups & -stepGroups,
    ),
    Q8_INPUT: q8,
    SHARED_INPUT: false,
    SHARED_WEIGHTS: tiles.sharedWeights !== undefined,
    LANES: tiles.sharedWeights ?? 1,
    ...inputQ8Constants(q8 ? K : 0, format),
  };
  if (isGated) {
    constants.GATE_OFFSET = segments[0].rowOffset ?? 0;
    constants.UP_OFFSET = segments[1].rowOffset ?? 0;
  } else {
    segments.forEach((s, i) => {
      if (s.rowOffset) throw new Error('row offsets apply to the gated FFN product only');
      if (i > 0) constants[`SEG${i}_START`] = starts[i];
      constants[`OUT${i}`] = s.outColumn;
      constants[`HAS_BIAS${i}`] = s.biasIndex !== undefined;
      constants[`BIAS${i}`] = s.biasIndex ?? 0;
    });
  }
  const fns: string[] = [];
  let next = 4;
  segments.forEach((s, i) => {
    Object.assign(constants, partConstants(s.parts, `${i}`));
    fns.push(partedDequant(`deq_s${i}`, 'w', next, s.parts, K, q8));
    next += s.parts.length;
  });
  const dequant = [
    prelude(spec.precision, tiles.sharedWeights !== undefined),
    productInputSource,
    weightBindings(
      'w',
      4,
      segments.flatMap((s) => s.parts),
      q8,
    ),
    ...fns,
  ].join('\n');
  return kernel('gemm', `${dequant}\n${gemmSource}`, constants);
}
