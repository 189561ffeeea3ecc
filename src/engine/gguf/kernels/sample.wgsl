// Picks the next token on the GPU so only its id is read back, over many workgroups of SLICE
// logits each. Greedy: argmax of the (penalized) logits, ties to the lower id. Sampling, in
// llama.cpp's chain order: repetition penalty, top-k, top-p and min-p on the softmax, then
// temperature, then a draw with the caller's seeded uniform number. The top-k and top-p
// thresholds are found by a radix select over the bit patterns of the probabilities (positive
// floats order like their bit patterns), a byte per level: each workgroup counts (or weighs) its
// slice's keys by the next byte, and one workgroup picks the byte. Nothing is sorted, and every
// sum is taken in a fixed order, so a seed reproduces its draws.
// The stages, one dispatch each (STAGE): PREPARE (all workgroups: penalized copy of the logits,
// best of each slice), TOP (one: the best overall; greedy ends here), EXPONENTIATE (all:
// exp(logit - max)), then LEVELS times HISTOGRAM (all) and SELECT (one) for top-k and again for
// top-p, then WEIGH (all: tempered weights of the kept tokens and each slice's total) and DRAW
// (one). The chosen id goes to result[0] and into the history ring.
// Constants: V, RING, SLICE, SLICES, MASS_BITS, STAGE. `Sampling` is declared in host-structs.ts.
@group(0) @binding(0) var<uniform> params: Sampling;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> recent: array<u32>;
@group(0) @binding(3) var<storage, read_write> work: array<f32>;
@group(0) @binding(4) var<storage, read_write> partials: array<u32>;
@group(0) @binding(5) var<storage, read_write> result: array<u32>;

const WG = 256u;
const BINS = 256u;
// Radix levels of a 32-bit key, for top-k then for top-p.
const LEVELS = 4u;
// Offsets into `partials`: each slice's best value and id, each slice's histogram of counts and
// of mass, each slice's weight total, then the search state.
const BEST_VALUE = 0u;
const BEST_ID = SLICES;
const COUNTS = 2u * SLICES;
const MASSES = COUNTS + SLICES * BINS;
const TOTALS = MASSES + SLICES * BINS;
const STATE = TOTALS + SLICES;
// State words: the best id and value, the search phase (0..2 * LEVELS), the key prefix found so
// far, the count or mass of eligible keys above the prefix, top-p's goal mass, and the top-k
// threshold.
const TOP_ID = STATE;
const TOP_VALUE = STATE + 1u;
const PHASE = STATE + 2u;
const PREFIX = STATE + 3u;
const ABOVE = STATE + 4u;
const GOAL = STATE + 5u;
const THRESHOLD_K = STATE + 6u;

var<workgroup> fred: array<f32, WG>;
var<workgroup> ired: array<u32, WG>;
var<workgroup> shared_word: u32;

fn slice_range(wg: u32) -> vec2u {
  let start = min(wg * SLICE, V);
  return vec2u(start, min(start + SLICE, V));
}

fn top_k_active() -> bool {
  return params.top_k > 0u && params.top_k < V;
}

// Best (value, id) with ties to the lower id; the winner's slot is left in fred[0] / ired[0].
fn argmax(tid: u32, value: f32, id: u32) {
  fred[tid] = value;
  ired[tid] = id;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) {
      let v = fred[tid + s];
      let i = ired[tid + s];
      if (v > fred[tid] || (v == fred[tid] && i < ired[tid])) {
        fred[tid] = v;
        ired[tid] = i;
      }
    }
    workgroupBarrier();
  }
}

// The chosen token: the answer, and the newest entry of the history ring.
fn choose(id: u32) {
  result[0] = id;
  recent[params.history_end % RING] = id;
}

#if STAGE == 0
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let range = slice_range(wid.x);
  for (var i = range.x + tid; i < range.y; i += WG) {
    work[i] = logits[i];
  }
  storageBarrier();
  let oldest = params.history_end - params.history;
  if (tid < params.history) {
    let token = recent[(oldest + tid) % RING];
    if (token >= range.x && token < range.y) {
      var first = true;
      for (var k = 0u; k < tid; k++) {
        if (recent[(oldest + k) % RING] == token) { first = false; }
      }
      if (first) {
        let v = work[token];
        work[token] = select(v * params.penalty, v / params.penalty, v > 0.0);
      }
    }
  }
  storageBarrier();
  var best = -3.0e38;
  var best_id = range.x;
  for (var i = range.x + tid; i < range.y; i += WG) {
    if (work[i] > best) {
      best = work[i];
      best_id = i;
    }
  }
  argmax(tid, best, best_id);
  if (tid == 0u) {
    partials[BEST_VALUE + wid.x] = bitcast<u32>(fred[0]);
    partials[BEST_ID + wid.x] = ired[0];
  }
}
#elif STAGE == 1
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) tid: u32) {
  var best = -3.0e38;
  var best_id = V;
  for (var s = tid; s < SLICES; s += WG) {
    let v = bitcast<f32>(partials[BEST_VALUE + s]);
    let i = partials[BEST_ID + s];
    if (v > best || (v == best && i < best_id)) {
      best = v;
      best_id = i;
    }
  }
  argmax(tid, best, best_id);
  if (tid == 0u) {
    partials[TOP_ID] = ired[0];
    partials[TOP_VALUE] = bitcast<u32>(fred[0]);
    partials[PHASE] = 0u;
    partials[PREFIX] = 0u;
    partials[ABOVE] = 0u;
    partials[THRESHOLD_K] = 0u;
    if (params.greedy != 0u) { choose(ired[0]); }
  }
}
#elif STAGE == 2
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  if (params.greedy != 0u) { return; }
  let m = bitcast<f32>(partials[TOP_VALUE]);
  let range = slice_range(wid.x);
  for (var i = range.x + tid; i < range.y; i += WG) {
    work[i] = exp(work[i] - m);
  }
}
#elif STAGE == 3
var<workgroup> counts: array<atomic<u32>, BINS>;
// A probability's mass in fixed point, split in two halves of MASS_BITS bits so a slice's sums fit
// in u32 and come out the same whatever order the atomics ran in.
const MASS_SCALE = f32(1u << MASS_BITS);
var<workgroup> mass_high: array<atomic<u32>, BINS>;
var<workgroup> mass_low: array<atomic<u32>, BINS>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  if (tid == 0u) { shared_word = partials[PHASE]; }
  let phase = workgroupUniformLoad(&shared_word);
  let for_p = phase >= LEVELS;
  if (params.greedy != 0u || (!for_p && !top_k_active()) || (for_p && params.top_p >= 1.0)) {
    return;
  }
  atomicStore(&counts[tid], 0u);
  atomicStore(&mass_high[tid], 0u);
  atomicStore(&mass_low[tid], 0u);
  workgroupBarrier();
  let level = phase % LEVELS;
  let shift = 24u - 8u * level;
  let prefix = partials[PREFIX];
  // Top-p weighs only the keys top-k kept.
  let floor_key = select(0u, partials[THRESHOLD_K], for_p);
  let range = slice_range(wid.x);
  for (var i = range.x + tid; i < range.y; i += WG) {
    let p = work[i];
    let key = bitcast<u32>(p);
    // Keys that share the prefix's bytes above this level.
    let same = level == 0u || (key >> (shift + 8u)) == (prefix >> (shift + 8u));
    if (same && key >= floor_key) {
      let bin = (key >> shift) & 0xffu;
      if (for_p) {
        let scaled = p * MASS_SCALE;
        let high = floor(scaled);
        atomicAdd(&mass_high[bin], u32(high));
        atomicAdd(&mass_low[bin], u32((scaled - high) * MASS_SCALE));
      } else {
        atomicAdd(&counts[bin], 1u);
      }
    }
  }
  workgroupBarrier();
  let at = wid.x * BINS + tid;
  if (for_p) {
    let high = f32(atomicLoad(&mass_high[tid]));
    let low = f32(atomicLoad(&mass_low[tid]));
    partials[MASSES + at] = bitcast<u32>((high + low / MASS_SCALE) / MASS_SCALE);
  } else {
    partials[COUNTS + at] = atomicLoad(&counts[tid]);
  }
}
#elif STAGE == 4
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) tid: u32) {
  if (tid == 0u) { shared_word = partials[PHASE]; }
  let phase = workgroupUniformLoad(&shared_word);
  let for_p = phase >= LEVELS;
  let searching = params.greedy == 0u
    && ((!for_p && top_k_active()) || (for_p && params.top_p < 1.0));
  if (searching) {
    // Bin tid over every slice, in slice order.
    var count = 0u;
    var mass = 0.0;
    for (var s = 0u; s < SLICES; s++) {
      if (for_p) {
        mass += bitcast<f32>(partials[MASSES + s * BINS + tid]);
      } else {
        count += partials[COUNTS + s * BINS + tid];
      }
    }
    fred[tid] = mass;
    ired[tid] = count;
  }
  workgroupBarrier();
  if (tid == 0u) {
    let level = phase % LEVELS;
    let shift = 24u - 8u * level;
    if (searching) {
      if (for_p && level == 0u) {
        var total = 0.0;
        for (var b = 0u; b < BINS; b++) { total += fred[b]; }
        partials[GOAL] = bitcast<u32>(params.top_p * total);
        partials[ABOVE] = bitcast<u32>(0.0);
        partials[PREFIX] = 0u;
      }
      // The highest byte whose keys, with those above, reach the goal.
      var digit = 0u;
      if (for_p) {
        let goal = bitcast<f32>(partials[GOAL]);
        var above = bitcast<f32>(partials[ABOVE]);
        for (var b = BINS; b > 0u; b--) {
          if (above + fred[b - 1u] >= goal || b == 1u) {
            digit = b - 1u;
            break;
          }
          above += fred[b - 1u];
        }
        partials[ABOVE] = bitcast<u32>(above);
      } else {
        var above = partials[ABOVE];
        for (var b = BINS; b > 0u; b--) {
          if (above + ired[b - 1u] >= params.top_k || b == 1u) {
            digit = b - 1u;
            break;
          }
          above += ired[b - 1u];
        }
        partials[ABOVE] = above;
      }
      let prefix = partials[PREFIX] | (digit << shift);
      partials[PREFIX] = prefix;
      if (level == LEVELS - 1u && !for_p) {
        partials[THRESHOLD_K] = prefix;
      }
    }
    partials[PHASE] = phase + 1u;
  }
}
#elif STAGE == 5
// The threshold every kept token's key reaches: top-p's when it ran (never below top-k's), else
// top-k's; then min-p's (the top token's weight is exp(0) = 1).
fn threshold() -> u32 {
  var t = partials[THRESHOLD_K];
  if (params.top_p < 1.0) { t = partials[PREFIX]; }
  if (params.min_p > 0.0) { t = max(t, bitcast<u32>(params.min_p)); }
  return t;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  if (params.greedy != 0u) { return; }
  let keep = threshold();
  let inv_t = 1.0 / max(params.temperature, 1e-6);
  let range = slice_range(wid.x);
  var part = 0.0;
  for (var i = range.x + tid; i < range.y; i += WG) {
    let p = work[i];
    var w = 0.0;
    if (bitcast<u32>(p) >= keep && p > 0.0) { w = exp(log(p) * inv_t); }
    work[i] = w;
    part += w;
  }
  fred[tid] = part;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { fred[tid] += fred[tid + s]; }
    workgroupBarrier();
  }
  if (tid == 0u) { partials[TOTALS + wid.x] = bitcast<u32>(fred[0]); }
}
#else
@compute @workgroup_size(1)
fn main() {
  if (params.greedy != 0u) { return; }
  var total = 0.0;
  for (var s = 0u; s < SLICES; s++) { total += bitcast<f32>(partials[TOTALS + s]); }
  let goal = params.uniform01 * total;
  var acc = 0.0;
  var chosen = partials[TOP_ID];
  var found = false;
  for (var s = 0u; s < SLICES && !found; s++) {
    let part = bitcast<f32>(partials[TOTALS + s]);
    if (acc + part > goal && part > 0.0) {
      let range = slice_range(s);
      for (var i = range.x; i < range.y && !found; i++) {
        acc += work[i];
        if (acc > goal && work[i] > 0.0) {
          chosen = i;
          found = true;
        }
      }
      // Rounding left the goal just past this slice's own sum: its last kept token.
      for (var i = range.y; i > range.x && !found; i--) {
        if (work[i - 1u] > 0.0) {
          chosen = i - 1u;
          found = true;
        }
      }
    } else {
      acc += part;
    }
  }
  choose(chosen);
}
#endif
