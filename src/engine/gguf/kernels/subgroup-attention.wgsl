// Causal attention for passes of several tokens on CPU-backed adapters with subgroups of LANES
// invocations: one subgroup per eight consecutive query tokens of a query head (two quads of
// four), each lane holding its slice of the head (DK / LANES query values, DV / LANES value sums)
// for all eight, so that a key or value row is loaded once per eight queries, each lane its slice,
// and each quad's scores meet through one `subgroupAdd`. Those adapters load a buffer lane by
// lane, so the loads are what counts: over a 512-token prompt on lavapipe four queries per
// subgroup ran 1.5x faster than two queries per thread (query-attention.wgsl), eight a further
// 1.2x, twelve slower again (docs/performance.md). Each query's online softmax and output are as
// there.
// A subgroup's LANES invocations are taken to be consecutive in the workgroup (as on the CPU-backed
// adapters this runs on), so every value derived from `tid / LANES` is uniform in the subgroup.
// Token t of the pass sits at position pos0 + t and sees 0..pos, or with a sliding window the
// last WINDOW positions; SOFTCAP > 0 caps each score at SOFTCAP * tanh(score / SOFTCAP).
// Constants: H, G (query heads per KV head), HKV, DK, DV (multiples of 8 x LANES), QKV, SCALE,
// WINDOW, SOFTCAP, WG, LANES. `Step` is declared in host-structs.ts; `halves` and `first_seen` in
// attention-rows.wgsl, the slices in attention-slices.wgsl.
enable subgroups;
diagnostic(off, subgroup_uniformity);

@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> qkv: array<vec4f>;
@group(0) @binding(2) var<storage, read> kcache: array<vec4u>;
@group(0) @binding(3) var<storage, read> vcache: array<vec4u>;
@group(0) @binding(4) var<storage, read_write> out: array<vec4f>;

fn query_slice(t: u32, h: u32, lane: u32) -> KeySlice {
  var q = head_slice((t * QKV + h * DK) / 4u, lane);
  for (var i = 0u; i < 2u * KW; i++) {
    q[i] *= SCALE;
  }
  return q;
}

// Four consecutive query tokens of a head: their positions' range, query slices, value sums,
// running max scores and weight totals.
struct Quad {
  ts: vec4u,
  firsts: vec4u,
  ends: vec4u,
  q0: KeySlice,
  q1: KeySlice,
  q2: KeySlice,
  q3: KeySlice,
  a0: ValueSlice,
  a1: ValueSlice,
  a2: ValueSlice,
  a3: ValueSlice,
  m: vec4f,
  total: vec4f,
}

// Tokens t .. t + 3 of the pass (those past its end are its last again: computed, never stored).
fn quad_at(t: u32, h: u32, lane: u32) -> Quad {
  var quad: Quad;
  quad.ts = min(vec4u(t, t + 1u, t + 2u, t + 3u), vec4u(step.ntok - 1u));
  quad.firsts = vec4u(
    first_seen(quad.ts.x),
    first_seen(quad.ts.y),
    first_seen(quad.ts.z),
    first_seen(quad.ts.w),
  );
  quad.ends = vec4u(step.pos0) + quad.ts + vec4u(1u);
  quad.q0 = query_slice(quad.ts.x, h, lane);
  quad.q1 = query_slice(quad.ts.y, h, lane);
  quad.q2 = query_slice(quad.ts.z, h, lane);
  quad.q3 = query_slice(quad.ts.w, h, lane);
  quad.m = vec4f(-3.0e38);
  return quad;
}

// The quad's queries meet position j, the lane's slices of its key row `k` and value row `v`.
fn attend(quad: ptr<function, Quad>, j: u32, k: KeySlice, v: ValueSlice) {
  var s = vec4f(0.0);
  for (var i = 0u; i < 2u * KW; i++) {
    s += vec4f(dot((*quad).q0[i], k[i]), dot((*quad).q1[i], k[i]), dot((*quad).q2[i], k[i]),
      dot((*quad).q3[i], k[i]));
  }
  var score = subgroupAdd(s);
  if (SOFTCAP > 0.0) {
    score = SOFTCAP * tanh(score / SOFTCAP);
  }
  // A query that does not see the position keeps its state bit for bit.
  let live = (vec4u(j) < (*quad).ends) & (vec4u(j) >= (*quad).firsts);
  let m = (*quad).m;
  let m_new = select(m, max(m, score), live);
  let correction = exp(m - m_new);
  let weight = select(vec4f(0.0), exp(score - m_new), live);
  (*quad).total = (*quad).total * correction + weight;
  (*quad).m = m_new;
  for (var i = 0u; i < 2u * VW; i++) {
    (*quad).a0[i] = (*quad).a0[i] * correction.x + weight.x * v[i];
    (*quad).a1[i] = (*quad).a1[i] * correction.y + weight.y * v[i];
    (*quad).a2[i] = (*quad).a2[i] * correction.z + weight.z * v[i];
    (*quad).a3[i] = (*quad).a3[i] * correction.w + weight.w * v[i];
  }
}

fn store_slice(t: u32, h: u32, lane: u32, acc: ValueSlice, total: f32) {
  let at = (t * H * DV + h * DV) / 4u + lane * 2u * VW;
  for (var i = 0u; i < 2u * VW; i++) {
    out[at + i] = acc[i] / total;
  }
}

// The quad's outputs, from its first token t (none past the pass's end).
fn store_quad(quad: Quad, t: u32, h: u32, lane: u32) {
  let last = step.ntok - 1u;
  if (t <= last) { store_slice(quad.ts.x, h, lane, quad.a0, quad.total.x); }
  if (t + 1u <= last) { store_slice(quad.ts.y, h, lane, quad.a1, quad.total.y); }
  if (t + 2u <= last) { store_slice(quad.ts.z, h, lane, quad.a2, quad.total.z); }
  if (t + 3u <= last) { store_slice(quad.ts.w, h, lane, quad.a3, quad.total.w); }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) tid: u32,
  @builtin(subgroup_invocation_id) lane: u32,
) {
  let h = wid.x;
  let t = 8u * (wid.y * (WG / LANES) + tid / LANES);
  if (t >= step.ntok) { return; }
  let kh = h / G;
  var qa = quad_at(t, h, lane);
  var qb = quad_at(t + 4u, h, lane);
  for (var j = qa.firsts.x; j < qb.ends.w; j++) {
    let k = key_slice(j, kh, lane);
    let v = value_slice(j, kh, lane);
    attend(&qa, j, k, v);
    attend(&qb, j, k, v);
  }
  store_quad(qa, t, h, lane);
  store_quad(qb, t + 4u, h, lane);
}
