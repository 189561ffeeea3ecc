// Per (head, token): q/k RMSNorm per head (qwen3), rotary embedding from a precomputed cos/sin
// table, then keys and values stored in the f16 KV cache (two halves per u32). Workgroups
// 0..H-1 are query heads (rotated in place), H..H+HKV-1 key heads, the rest value heads.
// Constants (declared by the host, see preprocess.ts): H, HKV, DK, DV (heads and head widths),
// QKV (values per token of the qkv buffer), ROPE_PAIRS (rotated pairs; 0 stores keys unrotated),
// NEOX (pairs i, i + ROPE_PAIRS instead of 2i, 2i + 1), QK_NORM with Q_NORM / K_NORM (offsets of
// the q/k norm weights in `vecs`) and EPS, WG (threads per head and token, a power of two).
// `Step` is declared in host-structs.ts.
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> vecs: array<f32>;
@group(0) @binding(3) var<storage, read> rope: array<vec2f>;
@group(0) @binding(4) var<storage, read_write> kcache: array<u32>;
@group(0) @binding(5) var<storage, read_write> vcache: array<u32>;

var<workgroup> red: array<f32, WG>;
// The pairs a thread rotates.
const PAIRS = (DK / 2u + WG - 1u) / WG;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let slot = wid.x;
  let t = wid.y;
  if (t >= step.ntok) { return; }
  let pos = step.pos0 + t;
  if (slot >= H + HKV) {
    let vh = slot - H - HKV;
    let base = t * QKV + H * DK + HKV * DK + vh * DV;
    for (var i = tid; i < DV / 2u; i += WG) {
      vcache[(pos * HKV + vh) * (DV / 2u) + i] =
        pack2x16float(vec2f(qkv[base + 2u * i], qkv[base + 2u * i + 1u]));
    }
    return;
  }
  let is_key = slot >= H;
  let base = t * QKV + select(slot * DK, H * DK + (slot - H) * DK, is_key);
  var scale = 1.0;
#if QK_NORM
  {
    var ss = 0.0;
    for (var i = tid; i < DK; i += WG) {
      ss += qkv[base + i] * qkv[base + i];
    }
    red[tid] = ss;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (tid < s) { red[tid] += red[tid + s]; }
      workgroupBarrier();
    }
    scale = inverseSqrt(red[0] / f32(DK) + EPS);
  }
  let nw = select(Q_NORM, K_NORM, is_key);
#endif
  // Every thread reads its pair before any thread writes.
  var a_idx: array<u32, PAIRS>;
  var b_idx: array<u32, PAIRS>;
  var a_val: array<f32, PAIRS>;
  var b_val: array<f32, PAIRS>;
  var n = 0u;
  for (var i = tid; i < DK / 2u; i += WG) {
    var ia: u32;
    var ib: u32;
#if NEOX
    if (i >= ROPE_PAIRS) {
      ia = 2u * i;
      ib = ia + 1u;
    } else {
      ia = i;
      ib = i + ROPE_PAIRS;
    }
#else
    ia = 2u * i;
    ib = ia + 1u;
#endif
    var xa = qkv[base + ia] * scale;
    var xb = qkv[base + ib] * scale;
#if QK_NORM
    xa *= vecs[nw + ia];
    xb *= vecs[nw + ib];
#endif
    if (i < ROPE_PAIRS) {
      let cs = rope[pos * ROPE_PAIRS + i];
      let ra = xa * cs.x - xb * cs.y;
      let rb = xa * cs.y + xb * cs.x;
      xa = ra;
      xb = rb;
    }
    a_idx[n] = ia;
    b_idx[n] = ib;
    a_val[n] = xa;
    b_val[n] = xb;
    n++;
  }
  storageBarrier();
  workgroupBarrier();
  for (var j = 0u; j < n; j++) {
    qkv[base + a_idx[j]] = a_val[j];
    qkv[base + b_idx[j]] = b_val[j];
  }
  if (!is_key) { return; }
  storageBarrier();
  workgroupBarrier();
  let kh = slot - H;
  for (var i = tid; i < DK / 2u; i += WG) {
    kcache[(pos * HKV + kh) * (DK / 2u) + i] =
      pack2x16float(vec2f(qkv[base + 2u * i], qkv[base + 2u * i + 1u]));
  }
}
