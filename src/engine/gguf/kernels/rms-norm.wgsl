// RMSNorm of the pass's tokens, written once so that every matrix product reading the normalised
// input (q/k/v, gate/up, the output layer) reads it instead of recomputing the norm in each of its
// workgroups. One workgroup per token (dispatched along y), or with LAST_TOKEN one workgroup for
// the pass's last token alone (the output layer's input). `Step` is declared in host-structs.ts.
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> vecs: array<f32>;
@group(0) @binding(3) var<storage, read_write> normed: array<f32>;

var<workgroup> red: array<f32, WG>;

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
  for (var i = tid; i < E; i += WG) {
    normed[base + i] = x[base + i] * scale * vecs[NORM + i];
  }
}
