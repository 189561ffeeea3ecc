// RMSNorm of the pass's tokens, written once so that every matrix product reading the normalised
// input (q/k/v, gate/up, the output layer) reads it instead of recomputing the norm in each of its
// workgroups; with QUANTIZE written straight as that product's 8-bit input (quantize-block.wgsl),
// which saves a pass per product. One workgroup per token (dispatched along y), or with LAST_TOKEN
// one workgroup for the pass's last token alone (the output layer's input). `Step` is declared in
// host-structs.ts.
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> vecs: array<f32>;
#if QUANTIZE
@group(0) @binding(3) var<storage, read_write> xq: array<u32>;
#else
@group(0) @binding(3) var<storage, read_write> normed: array<f32>;
#endif

var<workgroup> red: array<f32, WG>;

// Value i of the token at `base`, normalised: one expression for both outputs, so the 8-bit input
// equals the quantize pass's over the f32 output bit for bit.
fn normalised(base: u32, i: u32, scale: f32) -> f32 {
  return x[base + i] * scale * vecs[NORM + i];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
#if LAST_TOKEN
  let t = step.ntok - 1u;
#else
  let t = wid.y;
  if (t >= step.ntok) { return; }
#endif
  let base = t * E;
  var ss = 0.0;
  for (var i = tid; i < E; i += WG) {
    ss += x[base + i] * x[base + i];
  }
  red[tid] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] += red[tid + s]; }
    workgroupBarrier();
  }
  let scale = inverseSqrt(red[0] / f32(E) + EPS);
#if QUANTIZE
  for (var b = tid; b < E / 32u; b += WG) {
    var v: array<vec4f, 8>;
    for (var i = 0u; i < 8u; i++) {
      let j = b * 32u + i * 4u;
      v[i] = vec4f(
        normalised(base, j, scale),
        normalised(base, j + 1u, scale),
        normalised(base, j + 2u, scale),
        normalised(base, j + 3u, scale),
      );
    }
    store_q8_block(t, b, v);
  }
#else
  for (var i = tid; i < E; i += WG) {
    normed[base + i] = normalised(base, i, scale);
  }
#endif
}
