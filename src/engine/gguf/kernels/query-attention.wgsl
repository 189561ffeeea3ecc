// Causal attention for passes of several tokens on CPU-backed adapters: one thread per (query
// token, query head), its query and its weighted value sums held in its own registers, each key
// and value row read straight from the f16 KV cache, an online softmax one position at a time,
// the output written normalised. Those adapters load workgroup memory lane by lane like any
// buffer, so the flash-style kernel's staged tiles and the split kernel's shared queries and
// scores cost more loads than they share (docs/performance.md).
// Token t of the pass sits at position pos0 + t and sees 0..pos, or with a sliding window the
// last WINDOW positions; SOFTCAP > 0 caps each score at SOFTCAP * tanh(score / SOFTCAP).
// With PARTIALS (decode on those adapters) a thread takes one split of SPLIT positions of one
// query head and writes the split kernel's partial instead (attention.wgsl: unnormalised value
// sums, max score, weight total), which its reduce pass combines: enough threads to fill the
// CPU's vectors even for one token.
// Constants: H, G (query heads per KV head), HKV, DK, DV (multiples of 8), QKV, SCALE, WINDOW,
// SOFTCAP, WG, PARTIALS, SPLIT, MAX_SPLITS. `Step` is declared in host-structs.ts.
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> qkv: array<vec4f>;
@group(0) @binding(2) var<storage, read> kcache: array<vec4u>;
@group(0) @binding(3) var<storage, read> vcache: array<vec4u>;
#if PARTIALS
@group(0) @binding(4) var<storage, read_write> partials: array<f32>;
#else
@group(0) @binding(4) var<storage, read_write> out: array<vec4f>;
#endif

// Eight f16 values of a cache row.
fn halves(w: vec4u) -> array<vec4f, 2> {
  return array<vec4f, 2>(
    vec4f(unpack2x16float(w.x), unpack2x16float(w.y)),
    vec4f(unpack2x16float(w.z), unpack2x16float(w.w)),
  );
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
#if PARTIALS
  let h = (wid.x * WG + tid) % H;
  let split = (wid.x * WG + tid) / H;
  let t = wid.y;
  if (t >= step.ntok || split >= MAX_SPLITS) { return; }
#else
  let h = wid.x;
  let t = wid.y * WG + tid;
  if (t >= step.ntok) { return; }
#endif
  let kh = h / G;
  let n = step.pos0 + t + 1u;
  var first = 0u;
  if (WINDOW > 0u) {
    first = n - min(n, WINDOW);
  }
#if PARTIALS
  let lo = max(split * SPLIT, first);
  let hi = min((split + 1u) * SPLIT, n);
  if (lo >= hi) { return; }
#else
  let lo = first;
  let hi = n;
#endif
  var q: array<vec4f, DK / 4u>;
  let qo = (t * QKV + h * DK) / 4u;
  for (var i = 0u; i < DK / 4u; i++) {
    q[i] = qkv[qo + i] * SCALE;
  }
  // The head's vectors in steps of 8 values, as counts the compiler cannot fold (arrayLength is
  // read at run time), so that lavapipe keeps the loops over them rolled: unrolled, each cache
  // load becomes its own per-lane sequence and the loop over positions outgrows the CPU's
  // instruction cache (1.5x slower over a 512-token prompt, docs/performance.md).
  let k8 = min(DK / 8u, arrayLength(&kcache));
  let v8 = min(DV / 8u, arrayLength(&vcache));
  var acc: array<vec4f, DV / 4u>;
  var m = -3.0e38;
  var total = 0.0;
  for (var j = lo; j < hi; j++) {
    let kb = (j * HKV + kh) * (DK / 8u);
    var s = 0.0;
    for (var i = 0u; i < k8; i++) {
      let k = halves(kcache[kb + i]);
      s += dot(q[2u * i], k[0]) + dot(q[2u * i + 1u], k[1]);
    }
    if (SOFTCAP > 0.0) {
      s = SOFTCAP * tanh(s / SOFTCAP);
    }
    let m_new = max(m, s);
    let correction = exp(m - m_new);
    let weight = exp(s - m_new);
    total = total * correction + weight;
    m = m_new;
    let vb = (j * HKV + kh) * (DV / 8u);
    for (var i = 0u; i < v8; i++) {
      let v = halves(vcache[vb + i]);
      acc[2u * i] = acc[2u * i] * correction + weight * v[0];
      acc[2u * i + 1u] = acc[2u * i + 1u] * correction + weight * v[1];
    }
  }
#if PARTIALS
  let base = ((t * H + h) * MAX_SPLITS + split) * (DV + 2u);
  for (var i = 0u; i < DV / 4u; i++) {
    for (var c = 0u; c < 4u; c++) {
      partials[base + 4u * i + c] = acc[i][c];
    }
  }
  partials[base + DV] = m;
  partials[base + DV + 1u] = total;
#else
  let o = (t * H * DV + h * DV) / 4u;
  for (var i = 0u; i < DV / 4u; i++) {
    out[o + i] = acc[i] / total;
  }
#endif
}
