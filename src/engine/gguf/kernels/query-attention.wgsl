// Causal attention for passes of several tokens on CPU-backed adapters: one thread per two
// consecutive query tokens of a query head, their queries and weighted value sums held in its own
// registers, each key and value row read straight from the f16 KV cache once for both, an online
// softmax one position at a time, the outputs written normalised. Those adapters load a buffer
// lane by lane, so what counts is the loads: two queries per row read took a 512-token prompt's
// attention 1.6x faster than one, and the flash-style kernel's staged tiles and the split
// kernel's shared queries and scores cost more loads than they share (docs/performance.md).
// Token t of the pass sits at position pos0 + t and sees 0..pos, or with a sliding window the
// last WINDOW positions; SOFTCAP > 0 caps each score at SOFTCAP * tanh(score / SOFTCAP).
// With PARTIALS (decode on those adapters) a thread takes one split of SPLIT positions of one
// query head of one token and writes the split kernel's partial instead (attention.wgsl:
// unnormalised value sums, max score, weight total), which its reduce pass combines: enough
// threads to fill the CPU's vectors even for one token.
// Constants: H, G (query heads per KV head), HKV, DK, DV (multiples of 8), QKV, SCALE, WINDOW,
// SOFTCAP, WG, PARTIALS, SPLIT, MAX_SPLITS. `Step` is declared in host-structs.ts; `halves` and
// `first_seen` in attention-rows.wgsl.
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> qkv: array<vec4f>;
@group(0) @binding(2) var<storage, read> kcache: array<vec4u>;
@group(0) @binding(3) var<storage, read> vcache: array<vec4u>;
#if PARTIALS
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
#else
@group(0) @binding(4) var<storage, read_write> out: array<vec4f>;
#endif

// One query's online softmax: its running max and weight total.
struct Softmax { m: f32, total: f32 }

// Takes position score `s` into `sm` when the query sees the position (`live`); returns the factor
// rescaling the query's sums and the position's weight (1 and 0 when it does not see it, so its
// state stays bit for bit as it was).
fn softmax_step(sm: ptr<function, Softmax>, s: f32, live: bool) -> vec2f {
  var score = s;
  if (SOFTCAP > 0.0) {
    score = SOFTCAP * tanh(score / SOFTCAP);
  }
  let m_new = select((*sm).m, max((*sm).m, score), live);
  let correction = exp((*sm).m - m_new);
  let weight = select(0.0, exp(score - m_new), live);
  (*sm).total = (*sm).total * correction + weight;
  (*sm).m = m_new;
  return vec2f(correction, weight);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
#if PARTIALS
  let h = (wid.x * WG + tid) % H;
  let split = (wid.x * WG + tid) / H;
  let t = wid.y;
  if (t >= step.ntok || split >= MAX_SPLITS) { return; }
  let n = step.pos0 + t + 1u;
  let lo = max(split * SPLIT, first_seen(t));
  let hi = min((split + 1u) * SPLIT, n);
  if (lo >= hi) { return; }
#else
  let h = wid.x;
  let t = 2u * (wid.y * WG + tid);
  if (t >= step.ntok) { return; }
  // The second token; past the pass's end the first again (computed twice, stored once).
  let t1 = min(t + 1u, step.ntok - 1u);
  let n = step.pos0 + t + 1u;
  let first1 = first_seen(t1);
  let lo = first_seen(t);
  let hi = step.pos0 + t1 + 1u;
#endif
  let kh = h / G;
  var q: array<vec4f, DK / 4u>;
  let qo = (t * QKV + h * DK) / 4u;
  for (var i = 0u; i < DK / 4u; i++) {
    q[i] = qkv[qo + i] * SCALE;
  }
#if !PARTIALS
  var q1: array<vec4f, DK / 4u>;
  let qo1 = (t1 * QKV + h * DK) / 4u;
  for (var i = 0u; i < DK / 4u; i++) {
    q1[i] = qkv[qo1 + i] * SCALE;
  }
  var acc1: array<vec4f, DV / 4u>;
  var sm1 = Softmax(-3.0e38, 0.0);
#endif
  // The head's vectors in steps of 8 values, as counts the compiler cannot fold (arrayLength is
  // read at run time), so that lavapipe keeps the loops over them rolled: unrolled, each cache
  // load becomes its own per-lane sequence and the loop over positions outgrows the CPU's
  // instruction cache (1.5x slower over a 512-token prompt, docs/performance.md).
  let k8 = min(DK / 8u, arrayLength(&kcache));
  let v8 = min(DV / 8u, arrayLength(&vcache));
  var acc: array<vec4f, DV / 4u>;
  var sm = Softmax(-3.0e38, 0.0);
  for (var j = lo; j < hi; j++) {
    let kb = (j * HKV + kh) * (DK / 8u);
    var s = 0.0;
#if !PARTIALS
    var s1 = 0.0;
#endif
    for (var i = 0u; i < k8; i++) {
      let k = halves(kcache[kb + i]);
      s += dot(q[2u * i], k[0]) + dot(q[2u * i + 1u], k[1]);
#if !PARTIALS
      s1 += dot(q1[2u * i], k[0]) + dot(q1[2u * i + 1u], k[1]);
#endif
    }
    let f = softmax_step(&sm, s, j < n);
#if !PARTIALS
    let f1 = softmax_step(&sm1, s1, j >= first1);
#endif
    let vb = (j * HKV + kh) * (DV / 8u);
    for (var i = 0u; i < v8; i++) {
      let v = halves(vcache[vb + i]);
      acc[2u * i] = acc[2u * i] * f.x + f.y * v[0];
      acc[2u * i + 1u] = acc[2u * i + 1u] * f.x + f.y * v[1];
#if !PARTIALS
      acc1[2u * i] = acc1[2u * i] * f1.x + f1.y * v[0];
      acc1[2u * i + 1u] = acc1[2u * i + 1u] * f1.x + f1.y * v[1];
#endif
    }
  }
#if PARTIALS
  let base = ((t * H + h) * MAX_SPLITS + split) * (DV + 2u);
  for (var i = 0u; i < DV / 4u; i++) {
    for (var c = 0u; c < 4u; c++) {
      partials[base + 4u * i + c] = acc[i][c];
    }
  }
  partials[base + DV] = sm.m;
  partials[base + DV + 1u] = sm.total;
#else
  let o = (t * H * DV + h * DV) / 4u;
  let o1 = (t1 * H * DV + h * DV) / 4u;
  for (var i = 0u; i < DV / 4u; i++) {
    out[o + i] = acc[i] / sm.total;
    out[o1 + i] = acc1[i] / sm1.total;
  }
#endif
}
