// Causal attention over the f16 KV cache, one workgroup per (query head, token), online softmax
// over tiles of 64 positions (no score buffer, any context length). GQA: query head h reads
// key/value head h / (H / HKV). Token t of the pass sits at position pos0 + t and sees 0..pos, or
// with a sliding window only the last WINDOW positions; SOFTCAP > 0 caps each score at
// SOFTCAP * tanh(score / SOFTCAP).
// `Step` is declared in host-structs.ts.
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> kcache: array<u32>;
@group(0) @binding(3) var<storage, read> vcache: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

const H = $Hu;
const HKV = $HKVu;
const DK = $DKu;
const DV = $DVu;
const QKV = $QKVu;
const ACC = $ACCu;
const SCALE = $SCALE;
const WINDOW = $WINDOWu;
const SOFTCAP = $SOFTCAP;

var<workgroup> q: array<f32, DK>;
var<workgroup> scores: array<f32, 64>;
var<workgroup> weights: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let h = wid.x;
  let t = wid.y;
  if (t >= step.ntok) { return; }
  let kh = h / (H / HKV);
  let n = step.pos0 + t + 1u;
  let first = select(0u, n - min(n, WINDOW), WINDOW > 0u);
  for (var i = tid; i < DK; i += 64u) {
    q[i] = qkv[t * QKV + h * DK + i] * SCALE;
  }
  workgroupBarrier();
  var m = -3.0e38;
  var l = 0.0;
  var acc: array<f32, ACC>;
  for (var j0 = first; j0 < n; j0 += 64u) {
    let j = j0 + tid;
    var s = -3.0e38;
    if (j < n) {
      s = 0.0;
      let kb = (j * HKV + kh) * (DK / 2u);
      for (var i = 0u; i < DK / 2u; i++) {
        let k = unpack2x16float(kcache[kb + i]);
        s += q[2u * i] * k.x + q[2u * i + 1u] * k.y;
      }
      if (SOFTCAP > 0.0) {
        s = SOFTCAP * tanh(s / SOFTCAP);
      }
    }
    scores[tid] = s;
    workgroupBarrier();
    let count = min(64u, n - j0);
    var tile_max = -3.0e38;
    for (var c = 0u; c < count; c++) {
      tile_max = max(tile_max, scores[c]);
    }
    let m_new = max(m, tile_max);
    weights[tid] = select(0.0, exp(s - m_new), j < n);
    workgroupBarrier();
    let correction = exp(m - m_new);
    var tile_sum = 0.0;
    for (var c = 0u; c < count; c++) {
      tile_sum += weights[c];
    }
    l = l * correction + tile_sum;
    for (var a = 0u; a < ACC; a++) {
      let d = tid + 64u * a;
      if (d < DV) {
        var v_sum = 0.0;
        for (var c = 0u; c < count; c++) {
          let e = ((j0 + c) * HKV + kh) * DV + d;
          v_sum += weights[c] * unpack2x16float(vcache[e >> 1u])[e & 1u];
        }
        acc[a] = acc[a] * correction + v_sum;
      }
    }
    m = m_new;
    workgroupBarrier();
  }
  for (var a = 0u; a < ACC; a++) {
    let d = tid + 64u * a;
    if (d < DV) {
      out[t * H * DV + h * DV + d] = acc[a] / l;
    }
  }
}
