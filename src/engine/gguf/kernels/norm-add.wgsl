// hidden += RMSNorm(x) * w for each token of the pass, one workgroup per token: the norms Gemma
// applies to the attention and FFN outputs before adding them to the residual stream.
// Constants: E (values per token), NORM (offset of the norm weight in `vecs`), EPS.
// `Step` is declared in host-structs.ts.
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> vecs: array<f32>;
@group(0) @binding(3) var<storage, read_write> hidden: array<f32>;

var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wid.y;
  if (t >= step.ntok) { return; }
  let base = t * E;
  var ss = 0.0;
  for (var i = tid; i < E; i += 64u) {
    ss += x[base + i] * x[base + i];
  }
  red[tid] = ss;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] += red[tid + s]; }
    workgroupBarrier();
  }
  let scale = inverseSqrt(red[0] / f32(E) + EPS);
  for (var i = tid; i < E; i += 64u) {
    hidden[base + i] += x[base + i] * scale * vecs[NORM + i];
  }
}
