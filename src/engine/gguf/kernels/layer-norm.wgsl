// hidden = LayerNorm(hidden + extra) * w + b for each token of the pass, one workgroup per token:
// the BERT family's norm after the embeddings and after each attention and FFN residual add.
// Constants: E (values per token), W and B (offsets of the weight and bias in `vecs`), EPS, and
// EXTRA: 0 adds nothing, 1 adds the token's own row of `extra` (an attention or FFN output), 2 the
// row of the token's position in its sequence (the position and token-type embedding table).
// `Step` is declared in host-structs.ts.
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read_write> hidden: array<f32>;
@group(0) @binding(2) var<storage, read> vecs: array<f32>;
#if EXTRA != 0
@group(0) @binding(3) var<storage, read> extra: array<f32>;
#endif
#if EXTRA == 2
// Per token: the first token of its sequence and the one past its last.
@group(0) @binding(4) var<storage, read> spans: array<vec2u>;
#endif

var<workgroup> red: array<f32, 64>;

fn workgroup_sum(v: f32, tid: u32) -> f32 {
  red[tid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] += red[tid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wid.y;
  if (t >= step.ntok) { return; }
  let base = t * E;
#if EXTRA == 1
  let row = t * E;
#elif EXTRA == 2
  let row = (t - spans[t].x) * E;
#endif
  var sum = 0.0;
  for (var i = tid; i < E; i += 64u) {
#if EXTRA != 0
    hidden[base + i] += extra[row + i];
#endif
    sum += hidden[base + i];
  }
  let mean = workgroup_sum(sum, tid) / f32(E);
  var squares = 0.0;
  for (var i = tid; i < E; i += 64u) {
    let d = hidden[base + i] - mean;
    squares += d * d;
  }
  let scale = inverseSqrt(workgroup_sum(squares, tid) / f32(E) + EPS);
  for (var i = tid; i < E; i += 64u) {
    hidden[base + i] = (hidden[base + i] - mean) * scale * vecs[W + i] + vecs[B + i];
  }
}
