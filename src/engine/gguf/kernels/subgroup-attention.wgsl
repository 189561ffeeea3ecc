// Causal attention for passes of several tokens on CPU-backed adapters with subgroups of LANES
// invocations: one subgroup per four consecutive query tokens of a query head, each lane holding
// its slice of the head (DK / LANES query values, DV / LANES value sums) for all four, so that a
// key or value row is loaded once per four queries, each lane its slice, and the scores meet
// through one `subgroupAdd`. Those adapters load a buffer lane by lane, so the loads are what
// counts: 1.5x faster than two queries per thread (query-attention.wgsl) over a 512-token prompt
// on lavapipe (docs/performance.md). Each query's online softmax and output are as there.
// A subgroup's LANES invocations are taken to be consecutive in the workgroup (as on the CPU-backed
// adapters this runs on), so every value derived from `tid / LANES` is uniform in the subgroup.
// Token t of the pass sits at position pos0 + t and sees 0..pos, or with a sliding window the
// last WINDOW positions; SOFTCAP > 0 caps each score at SOFTCAP * tanh(score / SOFTCAP).
// Constants: H, G (query heads per KV head), HKV, DK, DV (multiples of 8 x LANES), QKV, SCALE,
// WINDOW, SOFTCAP, WG, LANES. `Step` is declared in host-structs.ts; `halves` and `first_seen` in
// attention-rows.wgsl.
enable subgroups;
diagnostic(off, subgroup_uniformity);

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> qkv: array<vec4f>;
@group(0) @binding(2) var<storage, read> kcache: array<vec4u>;
@group(0) @binding(3) var<storage, read> vcache: array<vec4u>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4f>;

// A lane's slice of a key row and of a value row, in vectors of eight f16 values.
const KW = DK / (8u * LANES);
const VW = DV / (8u * LANES);

// A lane's slice of one query (scaled) or of its value sums: two vectors per eight values.
alias KeySlice = array<vec4f, 2u * KW>;
alias ValueSlice = array<vec4f, 2u * VW>;

fn query_slice(t: u32, h: u32, lane: u32) -> KeySlice {
  let at = (t * QKV + h * DK) / 4u + lane * 2u * KW;
  var q: KeySlice;
  for (var i = 0u; i < 2u * KW; i++) {
    q[i] = qkv[at + i] * SCALE;
  }
  return q;
}

// The query's share of its score with the key slice `k` (vectors i of eight values).
fn partial_score(q: KeySlice, k: array<vec4f, 2>, i: u32) -> f32 {
  return dot(q[2u * i], k[0]) + dot(q[2u * i + 1u], k[1]);
}

// `acc` rescaled by `correction` plus `weight` times the value slice `v` (vectors i).
fn accumulate(acc: ptr<function, ValueSlice>, v: array<vec4f, 2>, i: u32, correction: f32,
  weight: f32) {
  (*acc)[2u * i] = (*acc)[2u * i] * correction + weight * v[0];
  (*acc)[2u * i + 1u] = (*acc)[2u * i + 1u] * correction + weight * v[1];
}

fn store_slice(t: u32, h: u32, lane: u32, acc: ValueSlice, total: f32) {
  let at = (t * H * DV + h * DV) / 4u + lane * 2u * VW;
  for (var i = 0u; i < 2u * VW; i++) {
    out[at + i] = acc[i] / total;
  }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) tid: u32,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let h = wid.x;
  let t = 4u * (wid.y * (WG / LANES) + tid / LANES);
  if (t >= step.ntok) { return; }
  // Tokens past the pass's end are its last again (computed, never stored).
  let last = step.ntok - 1u;
  let ts = min(vec4u(t, t + 1u, t + 2u, t + 3u), vec4u(last));
  let ends = vec4u(step.pos0) + ts + vec4u(1u);
  let firsts = vec4u(first_seen(ts.x), first_seen(ts.y), first_seen(ts.z), first_seen(ts.w));
  let kh = h / G;
  let q0 = query_slice(ts.x, h, lane);
  let q1 = query_slice(ts.y, h, lane);
  let q2 = query_slice(ts.z, h, lane);
  let q3 = query_slice(ts.w, h, lane);
  var a0: ValueSlice;
  var a1: ValueSlice;
  var a2: ValueSlice;
  var a3: ValueSlice;
  // The four queries' running max scores and weight totals.
  var m = vec4f(-3.0e38);
  var total = vec4f(0.0);
  for (var j = firsts.x; j < ends.w; j++) {
    let kb = (j * HKV + kh) * (DK / 8u) + lane * KW;
    var s = vec4f(0.0);
    for (var i = 0u; i < KW; i++) {
      let k = halves(kcache[kb + i]);
      s += vec4f(
        partial_score(q0, k, i),
        partial_score(q1, k, i),
        partial_score(q2, k, i),
        partial_score(q3, k, i),
      );
    }
    var score = subgroupAdd(s);
    if (SOFTCAP > 0.0) {
      score = SOFTCAP * tanh(score / SOFTCAP);
    }
    // A query that does not see the position keeps its state bit for bit.
    let live = (vec4u(j) < ends) & (vec4u(j) >= firsts);
    let m_new = select(m, max(m, score), live);
    let correction = exp(m - m_new);
    let weight = select(vec4f(0.0), exp(score - m_new), live);
    total = total * correction + weight;
    m = m_new;
    let vb = (j * HKV + kh) * (DV / 8u) + lane * VW;
    for (var i = 0u; i < VW; i++) {
      let v = halves(vcache[vb + i]);
      accumulate(&a0, v, i, correction.x, weight.x);
      accumulate(&a1, v, i, correction.y, weight.y);
      accumulate(&a2, v, i, correction.z, weight.z);
      accumulate(&a3, v, i, correction.w, weight.w);
    }
  }
  store_slice(ts.x, h, lane, a0, total.x);
  if (t + 1u <= last) { store_slice(ts.y, h, lane, a1, total.y); }
  if (t + 2u <= last) { store_slice(ts.z, h, lane, a2, total.z); }
  if (t + 3u <= last) { store_slice(ts.w, h, lane, a3, total.w); }
}
