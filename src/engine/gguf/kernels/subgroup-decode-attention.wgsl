// Decode attention on CPU-backed adapters with subgroups of LANES invocations: one subgroup (the
// workgroup) per KV head and split of SPLIT positions of a token, each lane holding its slice of
// the head (DK / LANES query values, DV / LANES value sums) for each of the KV head's G query heads
// (at most four), so that a key or value row is loaded once for all of them, each lane its slice,
// and their scores meet through one `subgroupAdd`. Those adapters load a buffer lane by lane, so
// a row read once for the group rather than once per query head is what counts
// (docs/performance.md). Writes the split kernel's partials (attention.wgsl: unnormalised value
// sums, max score, weight total) for its reduce pass.
// Token t of the pass sits at position pos0 + t and sees 0..pos, or with a sliding window the
// last WINDOW positions; SOFTCAP > 0 caps each score at SOFTCAP * tanh(score / SOFTCAP).
// With ROPE (one-token passes only) the kernel also does the rope pass's work for its token
// (rope.wgsl, without q/k norms, every pair of a head rotated): it reads the queries unrotated
// and rotates them from the cos/sin table, and the subgroup whose split holds the token's
// position rotates its key and stores it and its value in the cache before reading them back, so
// a decode step runs one pass fewer (each costs lavapipe's threads a wait, docs/performance.md).
// Constants: H, G (at most 4), HKV, DK, DV (multiples of 8 x LANES), QKV, SCALE, WINDOW, SOFTCAP,
// LANES, SPLIT, MAX_SPLITS, ROPE with ROPE_PAIRS (DK / 2, or 0: stored unrotated) and NEOX (pairs
// i, i + DK / 2 instead of 2i, 2i + 1). `Step` is declared in host-structs.ts; `halves` and
// `first_seen` in attention-rows.wgsl, the slices in attention-slices.wgsl.
enable subgroups;
diagnostic(off, subgroup_uniformity);

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> qkv: array<vec4f>;
#if ROPE
@group(0) @binding(2) var<storage, read_write> kcache: array<vec4u>;
@group(0) @binding(3) var<storage, read_write> vcache: array<vec4u>;
@group(0) @binding(5) var<storage, read> rope: array<vec2f>;
#else
@group(0) @binding(2) var<storage, read> kcache: array<vec4u>;
@group(0) @binding(3) var<storage, read> vcache: array<vec4u>;
#endif
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;

fn query_slice(t: u32, h: u32, lane: u32) -> KeySlice {
#if ROPE
  var q = rotated(head_slice((t * QKV + h * DK) / 4u, lane), step.pos0 + t, lane);
#else
  var q = head_slice((t * QKV + h * DK) / 4u, lane);
#endif
  for (var i = 0u; i < 2u * KW; i++) {
    q[i] *= SCALE;
  }
  return q;
}

#if ROPE
// A lane's slice of a query or key head rotated for position `pos` as rope.wgsl rotates it
// (the same products, so the same bits): with NEOX a pair's halves sit LANES / 2 lanes apart.
fn rotated(x: KeySlice, pos: u32, lane: u32) -> KeySlice {
  if (ROPE_PAIRS == 0u) { return x; }
  var r: KeySlice;
  for (var i = 0u; i < 2u * KW; i++) {
#if NEOX
    let other = subgroupShuffleXor(x[i], LANES / 2u);
    let first = lane < LANES / 2u;
    let pair = (lane % (LANES / 2u)) * 8u * KW + 4u * i;
    for (var c = 0u; c < 4u; c++) {
      let cs = rope[pos * ROPE_PAIRS + pair + c];
      let a = select(other[c], x[i][c], first);
      let b = select(x[i][c], other[c], first);
      r[i][c] = select(a * cs.y + b * cs.x, a * cs.x - b * cs.y, first);
    }
#else
    let pair = (lane * 8u * KW + 4u * i) / 2u;
    let c0 = rope[pos * ROPE_PAIRS + pair];
    let c1 = rope[pos * ROPE_PAIRS + pair + 1u];
    r[i] = vec4f(
      x[i].x * c0.x - x[i].y * c0.y,
      x[i].x * c0.y + x[i].y * c0.x,
      x[i].z * c1.x - x[i].w * c1.y,
      x[i].z * c1.y + x[i].w * c1.x,
    );
#endif
  }
  return r;
}

// Eight values as a cache stores them: f16, two per word (what `halves` reads back).
fn packed(a: vec4f, b: vec4f) -> vec4u {
  return vec4u(pack2x16float(a.xy), pack2x16float(a.zw), pack2x16float(b.xy), pack2x16float(b.zw));
}

// Token t's key (rotated) and value of KV head kh into the cache at its position, the lane's
// slice of each, as rope.wgsl stores them.
fn store_kv(t: u32, kh: u32, lane: u32) {
  let pos = step.pos0 + t;
  let k = rotated(head_slice((t * QKV + H * DK + kh * DK) / 4u, lane), pos, lane);
  let kat = (pos * HKV + kh) * (DK / 8u) + lane * KW;
  for (var i = 0u; i < KW; i++) {
    kcache[kat + i] = packed(k[2u * i], k[2u * i + 1u]);
  }
  let vat = (t * QKV + H * DK + HKV * DK + kh * DV) / 4u + lane * 2u * VW;
  let vcat = (pos * HKV + kh) * (DV / 8u) + lane * VW;
  for (var i = 0u; i < VW; i++) {
    vcache[vcat + i] = packed(qkv[vat + 2u * i], qkv[vat + 2u * i + 1u]);
  }
}
#endif

// Query head `h`'s partial for the split: the lane's slice of its value sums, and from lane 0
// its max score and weight total.
fn store_partial(t: u32, h: u32, split: u32, lane: u32, acc: ValueSlice, m: f32, total: f32) {
  let base = ((t * H + h) * MAX_SPLITS + split) * (DV + 2u);
  let at = base + lane * 8u * VW;
  for (var i = 0u; i < 2u * VW; i++) {
    for (var c = 0u; c < 4u; c++) {
      partials[at + 4u * i + c] = acc[i][c];
    }
  }
  if (lane == 0u) {
    partials[base + DV] = m;
    partials[base + DV + 1u] = total;
  }
}

@compute @workgroup_size(LANES)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let kh = wid.x % HKV;
  let split = wid.x / HKV;
  let t = wid.y;
  if (t >= step.ntok || split >= MAX_SPLITS) { return; }
  let n = step.pos0 + t + 1u;
  let lo = max(split * SPLIT, first_seen(t));
  let hi = min((split + 1u) * SPLIT, n);
  if (lo >= hi) { return; }
#if ROPE
  if (hi == n) {
    store_kv(t, kh, lane);
  }
#endif
  // The group's query heads; past G the last again (computed, never stored).
  let h0 = kh * G;
  let q0 = query_slice(t, h0, lane);
  let q1 = query_slice(t, h0 + min(1u, G - 1u), lane);
  let q2 = query_slice(t, h0 + min(2u, G - 1u), lane);
  let q3 = query_slice(t, h0 + min(3u, G - 1u), lane);
  var a0: ValueSlice;
  var a1: ValueSlice;
  var a2: ValueSlice;
  var a3: ValueSlice;
  var m = vec4f(-3.0e38);
  var total = vec4f(0.0);
  for (var j = lo; j < hi; j++) {
    let k = key_slice(j, kh, lane);
    var s = vec4f(0.0);
    for (var i = 0u; i < 2u * KW; i++) {
      s += vec4f(dot(q0[i], k[i]), dot(q1[i], k[i]), dot(q2[i], k[i]), dot(q3[i], k[i]));
    }
    var score = subgroupAdd(s);
    if (SOFTCAP > 0.0) {
      score = SOFTCAP * tanh(score / SOFTCAP);
    }
    let m_new = max(m, score);
    let correction = exp(m - m_new);
    let weight = exp(score - m_new);
    total = total * correction + weight;
    m = m_new;
    let v = value_slice(j, kh, lane);
    for (var i = 0u; i < 2u * VW; i++) {
      a0[i] = a0[i] * correction.x + weight.x * v[i];
      a1[i] = a1[i] * correction.y + weight.y * v[i];
      a2[i] = a2[i] * correction.z + weight.z * v[i];
      a3[i] = a3[i] * correction.w + weight.w * v[i];
    }
  }
  store_partial(t, h0, split, lane, a0, m.x, total.x);
  if (G > 1u) { store_partial(t, h0 + 1u, split, lane, a1, m.y, total.y); }
  if (G > 2u) { store_partial(t, h0 + 2u, split, lane, a2, m.z, total.z); }
  if (G > 3u) { store_partial(t, h0 + 3u, split, lane, a3, m.w, total.w); }
}
