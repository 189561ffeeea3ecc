// The K largest raw logits with their ids, best first (ties to the lower id), after the sampled
// id in `result`: result[1 + 2k] = id, result[2 + 2k] = logit bits. One workgroup; each round
// takes the best entry that ranks after the previous round's winner.
// Constant V: the vocabulary size. `Sampling` is declared in host-structs.ts.
@group(0) @binding(0) var<uniform> params: Sampling;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> result: array<u32>;

const WG = 256u;
var<workgroup> fred: array<f32, WG>;
var<workgroup> ired: array<u32, WG>;

fn ranks_before(v: f32, i: u32, w: f32, j: u32) -> bool {
  return v > w || (v == w && i < j);
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) tid: u32) {
  var prev_v = 3.4e38;
  var prev_i = 0u;
  var first = true;
  for (var k = 0u; k < params.top_logits; k++) {
    var best = -3.4e38;
    var best_i = 0xffffffffu;
    for (var i = tid; i < V; i += WG) {
      let v = logits[i];
      let after = first || ranks_before(prev_v, prev_i, v, i);
      if (after && ranks_before(v, i, best, best_i)) {
        best = v;
        best_i = i;
      }
    }
    fred[tid] = best;
    ired[tid] = best_i;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (tid < s && ranks_before(fred[tid + s], ired[tid + s], fred[tid], ired[tid])) {
        fred[tid] = fred[tid + s];
        ired[tid] = ired[tid + s];
      }
      workgroupBarrier();
    }
    prev_v = fred[0];
    prev_i = ired[0];
    first = false;
    if (tid == 0u) {
      result[1u + 2u * k] = prev_i;
      result[2u + 2u * k] = bitcast<u32>(prev_v);
    }
    workgroupBarrier();
  }
}
