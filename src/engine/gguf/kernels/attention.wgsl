// Causal attention over the f16 KV cache as flash-decoding: the context is cut into splits of SPLIT
// positions, one workgroup per (KV head, split, token) scores its split for the G = H / HKV query
// heads that share the KV head (each key and value read once for the group) with an online
// softmax over tiles of TILE positions, and writes a partial (unnormalised sums, max, weight
// total); the REDUCE variant, one workgroup per (query head, token), combines a token's partials.
// Token t of the pass sits at position pos0 + t and sees 0..pos, or with a sliding window only the
// last WINDOW positions; SOFTCAP > 0 caps each score at SOFTCAP * tanh(score / SOFTCAP). A
// position's splits and tiles depend on the position alone, so a token gives the same bits in a
// decode pass and in a prefill pass.
// Constants: H, HKV, G, DK, DV, QKV, SCALE, WINDOW, SOFTCAP, SPLIT, MAX_SPLITS, REDUCE, QUANTIZE,
// and for the reduce WG (its threads per head and token).
// `Step` is declared in host-structs.ts.
const TILE = 64u;
const PARTIAL = DV + 2u;

// The positions token t sees: [first, n).
fn visible(t: u32) -> vec2u {
  let n = step.pos0 + t + 1u;
  var first = 0u;
  if (WINDOW > 0u) {
    first = n - min(n, WINDOW);
  }
  return vec2u(first, n);
}

// Partial of (token, query head, split): DV weighted value sums, then the max score, then the sum
// of exp(score - max).
fn partial_base(t: u32, h: u32, s: u32) -> u32 {
  return ((t * H + h) * MAX_SPLITS + s) * PARTIAL;
}

#if !REDUCE
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> kcache: array<vec4u>;
@group(0) @binding(3) var<storage, read> vcache: array<u32>;
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;

// Value words (two f16 each) per head row, and how many each thread accumulates.
const WORDS = DV / 2u;
const WPT = (WORDS + TILE - 1u) / TILE;

// The group's queries, four values per vector: on CPU-backed adapters every workgroup-memory
// load costs the same whatever its width, so one vec4 load serves four multiply-adds.
var<workgroup> q: array<vec4f, G * DK / 4u>;
// Scores of the tile, then their weights exp(score - max), by head.
var<workgroup> scores: array<f32, G * TILE>;
var<workgroup> head_max: array<f32, G>;
var<workgroup> correction: array<f32, G>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let kh = wid.x % HKV;
  let split = wid.x / HKV;
  let t = wid.y;
  let range = visible(t);
  let lo = max(split * SPLIT, range.x);
  let hi = min((split + 1u) * SPLIT, range.y);
  if (t >= step.ntok || lo >= hi) { return; }
  for (var i = tid; i < G * DK / 4u; i += TILE) {
    let o = t * QKV + kh * G * DK + 4u * i;
    q[i] = vec4f(qkv[o], qkv[o + 1u], qkv[o + 2u], qkv[o + 3u]) * SCALE;
  }
  if (tid < G) { head_max[tid] = -3.0e38; }
  // Weighted value sums: word tid + TILE * k of head g at g * WPT + k.
  var acc: array<vec2f, G * WPT>;
  // Thread g < G keeps head g's weight total.
  var total = 0.0;
  workgroupBarrier();
  // Tiles are aligned to the split, skipping those wholly before the window.
  let start = split * SPLIT + (lo - split * SPLIT) / TILE * TILE;
  for (var j0 = start; j0 < hi; j0 += TILE) {
    let j = j0 + tid;
    let live = j >= lo && j < hi;
    var s: array<f32, G>;
    for (var g = 0u; g < G; g++) {
      s[g] = 0.0;
    }
    if (live) {
      let kb = (j * HKV + kh) * (DK / 8u);
      for (var i = 0u; i < DK / 8u; i++) {
        let w = kcache[kb + i];
        let k0 = unpack2x16float(w.x);
        let k1 = unpack2x16float(w.y);
        let k2 = unpack2x16float(w.z);
        let k3 = unpack2x16float(w.w);
        for (var g = 0u; g < G; g++) {
          let b = (g * DK + 8u * i) / 4u;
          s[g] += dot(q[b], vec4f(k0, k1)) + dot(q[b + 1u], vec4f(k2, k3));
        }
      }
    }
    for (var g = 0u; g < G; g++) {
      var score = -3.0e38;
      if (live) {
        score = s[g];
        if (SOFTCAP > 0.0) {
          score = SOFTCAP * tanh(score / SOFTCAP);
        }
      }
      scores[g * TILE + tid] = score;
    }
    workgroupBarrier();
    if (tid < G) {
      var tile_max = -3.0e38;
      for (var c = 0u; c < TILE; c++) {
        tile_max = max(tile_max, scores[tid * TILE + c]);
      }
      let m_new = max(head_max[tid], tile_max);
      correction[tid] = exp(head_max[tid] - m_new);
      head_max[tid] = m_new;
    }
    workgroupBarrier();
    for (var g = 0u; g < G; g++) {
      scores[g * TILE + tid] = select(0.0, exp(scores[g * TILE + tid] - head_max[g]), live);
    }
    workgroupBarrier();
    let count = min(TILE, hi - j0);
    for (var k = 0u; k < WPT; k++) {
      let w = tid + TILE * k;
      if (w < WORDS) {
        for (var g = 0u; g < G; g++) {
          acc[g * WPT + k] *= correction[g];
        }
        for (var c = 0u; c < count; c++) {
          let v = unpack2x16float(vcache[((j0 + c) * HKV + kh) * WORDS + w]);
          for (var g = 0u; g < G; g++) {
            acc[g * WPT + k] += scores[g * TILE + c] * v;
          }
        }
      }
    }
    if (tid < G) {
      var tile_total = 0.0;
      for (var c = 0u; c < count; c++) {
        tile_total += scores[tid * TILE + c];
      }
      total = total * correction[tid] + tile_total;
    }
    workgroupBarrier();
  }
  for (var k = 0u; k < WPT; k++) {
    let w = tid + TILE * k;
    if (w < WORDS) {
      for (var g = 0u; g < G; g++) {
        let base = partial_base(t, kh * G + g, split);
        partials[base + 2u * w] = acc[g * WPT + k].x;
        partials[base + 2u * w + 1u] = acc[g * WPT + k].y;
      }
    }
  }
  if (tid < G) {
    let base = partial_base(t, kh * G + tid, split);
    partials[base + DV] = head_max[tid];
    partials[base + DV + 1u] = total;
  }
}
#else
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> partials: array<f32>;
#if QUANTIZE
// The output written straight as the output projection's 8-bit input (quantize-block.wgsl), each
// of the head's blocks of 32 from the head's values in workgroup memory.
@group(0) @binding(2) var<storage, read_write> xq: array<u32>;
var<workgroup> head_out: array<f32, DV>;
#else
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
#endif

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let h = wid.x;
  let t = wid.y;
  if (t >= step.ntok) { return; }
  let range = visible(t);
  let first = range.x / SPLIT;
  let last = (range.y - 1u) / SPLIT;
  var m = -3.0e38;
  for (var s = first; s <= last; s++) {
    m = max(m, partials[partial_base(t, h, s) + DV]);
  }
  var l = 0.0;
  for (var s = first; s <= last; s++) {
    let base = partial_base(t, h, s);
    l += partials[base + DV + 1u] * exp(partials[base + DV] - m);
  }
  for (var d = tid; d < DV; d += WG) {
    var sum = 0.0;
    for (var s = first; s <= last; s++) {
      let base = partial_base(t, h, s);
      sum += partials[base + d] * exp(partials[base + DV] - m);
    }
#if QUANTIZE
    head_out[d] = sum / l;
#else
    out[t * H * DV + h * DV + d] = sum / l;
#endif
  }
#if QUANTIZE
  workgroupBarrier();
  for (var b = tid; b < DV / 32u; b += WG) {
    var v: array<vec4f, 8>;
    for (var i = 0u; i < 8u; i++) {
      let j = b * 32u + i * 4u;
      v[i] = vec4f(head_out[j], head_out[j + 1u], head_out[j + 2u], head_out[j + 3u]);
    }
    store_q8_block(t, h * (DV / 32u) + b, v);
  }
#endif
}
#endif
