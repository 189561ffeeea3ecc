// The prefill attention kernels: flash-style with tiles staged in workgroup memory
// (prefill-attention.wgsl, GPUs) and the tile sizes it runs with, and for CPU-backed adapters
// eight queries per subgroup (subgroup-attention.wgsl) or, without fitting subgroups, one thread
// per two queries (query-attention.wgsl); and those adapters' decode attention, the per-query
// kernel's split form or a KV head's query heads per subgroup (subgroup-decode-attention.wgsl).
import type { ModelHparams } from '../types';
import { qkvWidth } from '../buffer-plan';
import { kernel, type KernelVariant } from './pipeline';
import { attentionConstants } from './attention';
import source from './prefill-attention.wgsl?raw';
import rowsSource from './attention-rows.wgsl?raw';
import slicesSource from './attention-slices.wgsl?raw';
import querySource from './query-attention.wgsl?raw';
import subgroupSource from './subgroup-attention.wgsl?raw';
import subgroupDecodeSource from './subgroup-decode-attention.wgsl?raw';

/** Queries per workgroup and KV positions staged per step. */
export interface AttentionTiles {
  queries: number;
  positions: number;
}

const THREADS = 64;
/** Workgroup storage the spec's WebGPU guarantees every device (bytes). */
export const GUARANTEED_WORKGROUP_STORAGE = 16384;
/** Most output values one thread accumulates (registers). */
const MAX_ACCUMULATORS = 32;

function storageBytes(h: ModelHparams, t: AttentionTiles): number {
  const { keyLength: dk, valueLength: dv } = h;
  return 4 * (t.queries * dk + t.positions * (dk + dv) + t.queries * t.positions + 3 * t.queries);
}

/**
 * The largest tiles up to 16 queries x 32 positions that fit `workgroupStorage` bytes and keep a
 * thread's share of a query's output vector within its registers.
 */
export function attentionTiles(
  h: ModelHparams,
  workgroupStorage = GUARANTEED_WORKGROUP_STORAGE,
): AttentionTiles {
  const tiles: AttentionTiles = { queries: 16, positions: 32 };
  while ((h.valueLength * tiles.queries) / THREADS > MAX_ACCUMULATORS && tiles.queries > 1) {
    tiles.queries /= 2;
  }
  while (storageBytes(h, tiles) > workgroupStorage) {
    if (tiles.positions > tiles.queries && tiles.positions > 1) tiles.positions /= 2;
    else if (tiles.queries > 1) tiles.queries /= 2;
    else break;
  }
  return tiles;
}

export function prefillAttentionKernel(
  h: ModelHparams,
  window: number,
  tiles: AttentionTiles,
): KernelVariant {
  const rowThreads = THREADS / tiles.queries;
  if (!Number.isInteger(rowThreads) || h.valueLength % rowThreads || h.keyLength % 2) {
    throw new Error(
      `prefill attention tiles of ${tiles.queries} queries x ${tiles.positions} positions do not ` +
        `suit heads of ${h.keyLength}/${h.valueLength} values`,
    );
  }
  return kernel('prefill-attention', source, {
    ...attentionConstants(h, window),
    TILE_Q: tiles.queries,
    TILE_KV: tiles.positions,
  });
}

/** Threads per workgroup of the per-query kernel (each two query tokens, or a split in decode). */
export const QUERY_ATTENTION_WORKGROUP = 16;

/**
 * The per-query kernel (query-attention.wgsl): one thread per two query tokens of a head, for
 * CPU-backed adapters; dispatched as `queryAttentionWorkgroups`. With `split` (the decode
 * attention's splits, `attentionSplit`) one thread per query head and split, writing the partials
 * the decode attention's reduce pass combines; dispatched as `querySplitWorkgroups`.
 */
export function queryAttentionKernel(
  h: ModelHparams,
  window: number,
  split?: { positions: number; count: number },
): KernelVariant {
  if (h.keyLength % 8 || h.valueLength % 8 || qkvWidth(h) % 4) {
    throw new Error(
      `per-query attention reads heads 8 values at a time, not ${h.keyLength}/${h.valueLength}`,
    );
  }
  return kernel('query-attention', rowsSource + querySource, {
    ...attentionConstants(h, window),
    WG: QUERY_ATTENTION_WORKGROUP,
    PARTIALS: split !== undefined,
    SPLIT: split?.positions ?? 0,
    MAX_SPLITS: split?.count ?? 0,
  });
}

/**
 * The per-query kernel's grid for a pass of `ntok` tokens: heads along x, pairs of tokens along y.
 */
export function queryAttentionWorkgroups(h: ModelHparams, ntok: number): [number, number, number] {
  return [h.headCount, Math.ceil(ntok / 2 / QUERY_ATTENTION_WORKGROUP), 1];
}

/**
 * The split form's grid for `ntok` tokens over `splits` splits: (head, split) pairs along x,
 * tokens along y.
 */
export function querySplitWorkgroups(
  h: ModelHparams,
  ntok: number,
  splits: number,
): [number, number, number] {
  return [Math.ceil((h.headCount * splits) / QUERY_ATTENTION_WORKGROUP), ntok, 1];
}

/** Threads per workgroup of the subgroup form (each subgroup eight query tokens of a head). */
export const SUBGROUP_ATTENTION_WORKGROUP = 64;

/** Lanes a subgroup of the subgroup form spreads a head over. */
export type AttentionLanes = 4 | 8;

/**
 * The lanes the subgroup form runs with on a device whose subgroups hold `min` to `max`
 * invocations: its subgroups must all be one width (4 or 8) and the heads split into whole
 * vectors of eight values per lane; undefined: the per-query kernel runs instead.
 */
export function subgroupAttentionLanes(
  h: ModelHparams,
  hasSubgroups: boolean,
  min: number | undefined,
  max: number | undefined,
): AttentionLanes | undefined {
  if (!hasSubgroups || min !== max || (min !== 4 && min !== 8)) return undefined;
  const slice = 8 * min;
  if (h.keyLength % slice || h.valueLength % slice || qkvWidth(h) % 4) return undefined;
  return min;
}

/** The subgroup form (subgroup-attention.wgsl), dispatched as `subgroupAttentionWorkgroups`. */
export function subgroupAttentionKernel(
  h: ModelHparams,
  window: number,
  lanes: AttentionLanes,
): KernelVariant {
  if (subgroupAttentionLanes(h, true, lanes, lanes) !== lanes) {
    throw new Error(
      `heads of ${h.keyLength}/${h.valueLength} values do not split over ${lanes} lanes ` +
        'in vectors of eight',
    );
  }
  return kernel('subgroup-attention', rowsSource + slicesSource + subgroupSource, {
    ...attentionConstants(h, window),
    WG: SUBGROUP_ATTENTION_WORKGROUP,
    LANES: lanes,
  });
}

/** The subgroup form's grid for `ntok` tokens: heads along x, groups of eight tokens along y. */
export function subgroupAttentionWorkgroups(
  h: ModelHparams,
  ntok: number,
  lanes: AttentionLanes,
): [number, number, number] {
  const tokensPerWorkgroup = 8 * (SUBGROUP_ATTENTION_WORKGROUP / lanes);
  return [h.headCount, Math.ceil(ntok / tokensPerWorkgroup), 1];
}

/**
 * The rope pass's work done by the subgroup decode form (one-token passes): `pairs` rotated
 * pairs per head (a whole head, or 0 for layers without RoPE), `neox` for pairs i, i + d / 2.
 * Heads with q/k norms keep the rope pass.
 */
export interface DecodeRope {
  pairs: number;
  neox: boolean;
}

/** Most query heads per KV head the subgroup decode form holds (one vector of four). */
export const SUBGROUP_DECODE_MAX_GROUP = 4;

/**
 * Decode attention's subgroup form (subgroup-decode-attention.wgsl) over the decode attention's
 * `split`, where the subgroups fit (`subgroupAttentionLanes`) and at most four query heads share a
 * KV head; undefined elsewhere (the per-query kernel's split form runs instead), or where `rope`
 * rotates part of a head. Dispatched as `subgroupDecodeWorkgroups`; writes the partials the reduce
 * pass combines; with `rope` binds the cos/sin table at 5 and writes the token's key and value.
 */
export function subgroupDecodeAttentionKernel(
  h: ModelHparams,
  window: number,
  split: { positions: number; count: number },
  lanes: AttentionLanes,
  rope?: DecodeRope,
): KernelVariant | undefined {
  const group = h.headCount / h.headCountKv;
  if (group > SUBGROUP_DECODE_MAX_GROUP) return undefined;
  if (subgroupAttentionLanes(h, true, lanes, lanes) !== lanes) return undefined;
  if (rope && rope.pairs !== 0 && rope.pairs !== h.keyLength / 2) return undefined;
  return kernel('subgroup-decode-attention', rowsSource + slicesSource + subgroupDecodeSource, {
    ...attentionConstants(h, window),
    LANES: lanes,
    SPLIT: split.positions,
    MAX_SPLITS: split.count,
    ROPE: rope !== undefined,
    ROPE_PAIRS: rope?.pairs ?? 0,
    NEOX: rope?.neox ?? false,
  });
}

/** The subgroup decode form's grid: (KV head, split) pairs along x, tokens along y. */
export function subgroupDecodeWorkgroups(
  h: ModelHparams,
  ntok: number,
  splits: number,
): [number, number, number] {
  return [h.headCountKv * splits, ntok, 1];
}
