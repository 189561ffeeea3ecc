// Causal attention for passes of more than one token, flash-style: one workgroup per (query head,
// tile of TILE_Q tokens of the pass) walks the f16 KV cache in tiles of TILE_KV positions. Each
// tile's keys and values are staged once in workgroup memory for all TILE_Q queries; the scores
// of a tile (TILE_Q x TILE_KV) are the only ones ever held, with an online softmax (running max
// and sum per query, earlier sums rescaled), so no score matrix is materialised.
// Token t of the pass sits at position pos0 + t and sees 0..pos, or with a sliding window only the
// last WINDOW positions; SOFTCAP > 0 caps each score at SOFTCAP * tanh(score / SOFTCAP). GQA: query
// head h reads key/value head h / (H / HKV). Bindings as attention.wgsl (decode).
// `Step` is declared in host-structs.ts.
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> kcache: array<u32>;
@group(0) @binding(3) var<storage, read> vcache: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const WG = 64u;
// Threads that share one query's output vector, each holding ACC of its values.
const ROW_THREADS = WG / TILE_Q;
const ACC = DV / ROW_THREADS;
// Below every score: marks a masked position.
const MASKED = -3.0e38;

var<workgroup> qs: array<f32, TILE_Q * DK>;
var<workgroup> ks: array<f32, TILE_KV * DK>;
var<workgroup> vs: array<f32, TILE_KV * DV>;
// A tile's scores, then its softmax weights.
var<workgroup> ps: array<f32, TILE_Q * TILE_KV>;
var<workgroup> row_max: array<f32, TILE_Q>;
var<workgroup> row_sum: array<f32, TILE_Q>;
var<workgroup> row_rescale: array<f32, TILE_Q>;

// The first position a query at position p sees.
fn first_visible(p: u32) -> u32 {
  if (WINDOW > 0u && p + 1u > WINDOW) {
    return p + 1u - WINDOW;
  }
  return 0u;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let ntok = step.ntok;
  let h = wid.x;
  let q0 = wid.y * TILE_Q;
  if (q0 >= ntok) {
    return;
  }
  let kh = h / (H / HKV);
  let last = min(q0 + TILE_Q, ntok) - 1u;
  let kv_begin = first_visible(step.pos0 + q0);
  let kv_end = step.pos0 + last + 1u;
  for (var e = lid; e < TILE_Q * DK; e += WG) {
    let t = min(q0 + e / DK, ntok - 1u);
    qs[e] = qkv[t * QKV + h * DK + e % DK] * SCALE;
  }
  if (lid < TILE_Q) {
    row_max[lid] = MASKED;
    row_sum[lid] = 0.0;
  }
  let row = lid / ROW_THREADS;
  let sub = lid % ROW_THREADS;
  var acc: array<f32, ACC>;
  for (var j0 = kv_begin; j0 < kv_end; j0 += TILE_KV) {
    // The previous tile's weights and values are read (and the queries staged) before restaging.
    workgroupBarrier();
    for (var e = lid; e < TILE_KV * (DK / 2u); e += WG) {
      let j = e / (DK / 2u);
      let w = e % (DK / 2u);
      var pair = vec2f(0.0);
      if (j0 + j < kv_end) {
        pair = unpack2x16float(kcache[((j0 + j) * HKV + kh) * (DK / 2u) + w]);
      }
      ks[j * DK + 2u * w] = pair.x;
      ks[j * DK + 2u * w + 1u] = pair.y;
    }
    for (var e = lid; e < TILE_KV * (DV / 2u); e += WG) {
      let j = e / (DV / 2u);
      let w = e % (DV / 2u);
      var pair = vec2f(0.0);
      if (j0 + j < kv_end) {
        pair = unpack2x16float(vcache[((j0 + j) * HKV + kh) * (DV / 2u) + w]);
      }
      vs[j * DV + 2u * w] = pair.x;
      vs[j * DV + 2u * w + 1u] = pair.y;
    }
    workgroupBarrier();
    for (var e = lid; e < TILE_Q * TILE_KV; e += WG) {
      let i = e / TILE_KV;
      let j = e % TILE_KV;
      let p = step.pos0 + q0 + i;
      let kp = j0 + j;
      var s = MASKED;
      if (q0 + i < ntok && kp <= p && kp >= first_visible(p)) {
        var dot = 0.0;
        for (var d = 0u; d < DK; d++) {
          dot = fma(qs[i * DK + d], ks[j * DK + d], dot);
        }
        s = dot;
        if (SOFTCAP > 0.0) {
          s = SOFTCAP * tanh(s / SOFTCAP);
        }
      }
      ps[e] = s;
    }
    workgroupBarrier();
    if (lid < TILE_Q) {
      let m_old = row_max[lid];
      var m = m_old;
      for (var j = 0u; j < TILE_KV; j++) {
        m = max(m, ps[lid * TILE_KV + j]);
      }
      var sum = 0.0;
      for (var j = 0u; j < TILE_KV; j++) {
        let s = ps[lid * TILE_KV + j];
        let weight = select(0.0, exp(s - m), s > MASKED);
        ps[lid * TILE_KV + j] = weight;
        sum += weight;
      }
      let rescale = exp(m_old - m);
      row_rescale[lid] = rescale;
      row_sum[lid] = row_sum[lid] * rescale + sum;
      row_max[lid] = m;
    }
    workgroupBarrier();
    let rescale = row_rescale[row];
    for (var a = 0u; a < ACC; a++) {
      let d = sub + a * ROW_THREADS;
      var v = 0.0;
      for (var j = 0u; j < TILE_KV; j++) {
        v = fma(ps[row * TILE_KV + j], vs[j * DV + d], v);
      }
      acc[a] = acc[a] * rescale + v;
    }
  }
  let t = q0 + row;
  if (t < ntok) {
    let inv = 1.0 / row_sum[row];
    for (var a = 0u; a < ACC; a++) {
      out[t * H * DV + h * DV + sub + a * ROW_THREADS] = acc[a] * inv;
    }
  }
}
