// Bidirectional attention for an encoder pass that holds several short sequences back to back:
// each query attends to every key of its own sequence (the span of its token) and to no other, so
// sequences packed into one pass stay apart. One workgroup per (head, token): the scores of the
// sequence's keys sit in workgroup memory (MAX_SEQ of them), then softmax, then the weighted sum
// of the values. With ROPE_PAIRS > 0 queries and keys are rotated on the fly (NeoX pairs i and
// i + ROPE_PAIRS) by their positions in the sequence, from the host's cos/sin table.
// Constants: H, HKV (heads, KV heads), DK, DV (head widths), QKV (values per token in `qkv`: all
// queries, then keys, then values), MAX_SEQ, SCALE, ROPE_PAIRS. `Step` is in host-structs.ts.
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
// Per token: the first token of its sequence and the one past its last.
@group(0) @binding(2) var<storage, read> spans: array<vec2u>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
#if ROPE_PAIRS != 0
// cos and sin of each (position, pair).
@group(0) @binding(4) var<storage, read> rope: array<vec2f>;
#endif

var<workgroup> query: array<f32, DK>;
var<workgroup> scores: array<f32, MAX_SEQ>;
var<workgroup> red: array<f32, 64>;

/** Value `d` of the head starting at `base`, rotated for position `pos` where RoPE applies. */
fn rotated(base: u32, d: u32, pos: u32) -> f32 {
#if ROPE_PAIRS != 0
  if (d < 2u * ROPE_PAIRS) {
    let i = d % ROPE_PAIRS;
    let cs = rope[pos * ROPE_PAIRS + i];
    let a = qkv[base + i];
    let b = qkv[base + i + ROPE_PAIRS];
    if (d < ROPE_PAIRS) { return a * cs.x - b * cs.y; }
    return a * cs.y + b * cs.x;
  }
#endif
  return qkv[base + d];
}

fn workgroup_max(v: f32, tid: u32) -> f32 {
  red[tid] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (tid < s) { red[tid] = max(red[tid], red[tid + s]); }
    workgroupBarrier();
  }
  let m = red[0];
  workgroupBarrier();
  return m;
}

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
  let h = wid.x;
  let t = wid.y;
  if (t >= step.ntok) { return; }
  let span = spans[t];
  let n = span.y - span.x;
  let kh = h / (H / HKV);
  let q_base = t * QKV + h * DK;
  for (var d = tid; d < DK; d += 64u) {
    query[d] = rotated(q_base, d, t - span.x) * SCALE;
  }
  workgroupBarrier();
  var local_max = -3.0e38;
  for (var j = tid; j < n; j += 64u) {
    let k_base = (span.x + j) * QKV + H * DK + kh * DK;
    var s = 0.0;
    for (var d = 0u; d < DK; d++) {
      s += query[d] * rotated(k_base, d, j);
    }
    scores[j] = s;
    local_max = max(local_max, s);
  }
  let m = workgroup_max(local_max, tid);
  var local_sum = 0.0;
  for (var j = tid; j < n; j += 64u) {
    let e = exp(scores[j] - m);
    scores[j] = e;
    local_sum += e;
  }
  let total = workgroup_sum(local_sum, tid);
  let v_base = H * DK + HKV * DK + kh * DV;
  for (var d = tid; d < DV; d += 64u) {
    var acc = 0.0;
    for (var j = 0u; j < n; j++) {
      acc += scores[j] * qkv[(span.x + j) * QKV + v_base + d];
    }
    out[(t * H + h) * DV + d] = acc / total;
  }
}
