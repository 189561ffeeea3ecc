// Picks the next token on the GPU so only its id is read back. Greedy: argmax of the (penalized)
// logits, ties to the lower id. Sampling, in llama.cpp's chain order: repetition penalty, top-k,
// top-p and min-p on the softmax, then temperature, then a draw with the caller's seeded uniform
// number. Thresholds are found by binary search over the bits of the probabilities (positive
// floats order like their bit patterns), so nothing is sorted. One workgroup.
// `Sampling` is declared in host-structs.ts.
@group(0) @binding(0) var<uniform> params: Sampling;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> recent: array<u32>;
@group(0) @binding(3) var<storage, read_write> work: array<f32>;
@group(0) @binding(4) var<storage, read_write> result: array<u32>;

const V = $Vu;
const RING = $RINGu;
const WG = 256u;
var<workgroup> fred: array<f32, WG>;
var<workgroup> ired: array<u32, WG>;

fn sum_f(tid: u32, v: f32) -> f32 {
  fred[tid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { fred[tid] += fred[tid + s]; }
    workgroupBarrier();
  }
  let total = workgroupUniformLoad(&fred[0]);
  workgroupBarrier();
  return total;
}

fn count_u(tid: u32, v: u32) -> u32 {
  ired[tid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) { ired[tid] += ired[tid + s]; }
    workgroupBarrier();
  }
  let total = workgroupUniformLoad(&ired[0]);
  workgroupBarrier();
  return total;
}

// Best (value, id) with ties to the lower id; the winner's id is returned.
fn argmax(tid: u32, value: f32, id: u32) -> u32 {
  fred[tid] = value;
  ired[tid] = id;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (tid < s) {
      let v = fred[tid + s];
      let i = ired[tid + s];
      if (v > fred[tid] || (v == fred[tid] && i < ired[tid])) {
        fred[tid] = v;
        ired[tid] = i;
      }
    }
    workgroupBarrier();
  }
  let best = workgroupUniformLoad(&ired[0]);
  workgroupBarrier();
  return best;
}

fn mass_above(tid: u32, threshold: u32) -> f32 {
  var s = 0.0;
  for (var i = tid; i < V; i += WG) {
    if (bitcast<u32>(work[i]) >= threshold) { s += work[i]; }
  }
  return sum_f(tid, s);
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) tid: u32) {
  for (var i = tid; i < V; i += WG) {
    work[i] = logits[i];
  }
  storageBarrier();
  workgroupBarrier();
  let oldest = params.history_end - params.history;
  if (tid < params.history) {
    let token = recent[(oldest + tid) % RING];
    var first = token < V;
    for (var k = 0u; k < tid; k++) {
      if (recent[(oldest + k) % RING] == token) { first = false; }
    }
    if (first) {
      let v = work[token];
      work[token] = select(v * params.penalty, v / params.penalty, v > 0.0);
    }
  }
  storageBarrier();
  workgroupBarrier();
  var best = -3.0e38;
  var best_id = 0u;
  for (var i = tid; i < V; i += WG) {
    if (work[i] > best) {
      best = work[i];
      best_id = i;
    }
  }
  let top = argmax(tid, best, best_id);
  if (params.greedy != 0u) {
    if (tid == 0u) {
      result[0] = top;
      recent[params.history_end % RING] = top;
    }
    return;
  }
  let m = work[top];
  storageBarrier();
  workgroupBarrier();
  for (var i = tid; i < V; i += WG) {
    work[i] = exp(work[i] - m);
  }
  storageBarrier();
  workgroupBarrier();
  // Keys: bit patterns of probabilities; every kept token has key >= threshold.
  var threshold = 0u;
  if (params.top_k > 0u && params.top_k < V) {
    var lo = 0u;
    var hi = 0x7f800001u;
    while (hi - lo > 1u) {
      let mid = lo + (hi - lo) / 2u;
      var c = 0u;
      for (var i = tid; i < V; i += WG) {
        if (bitcast<u32>(work[i]) >= mid) { c++; }
      }
      if (count_u(tid, c) >= params.top_k) { lo = mid; } else { hi = mid; }
    }
    threshold = lo;
  }
  if (params.top_p < 1.0) {
    let goal_mass = params.top_p * mass_above(tid, threshold);
    var lo = threshold;
    var hi = 0x7f800001u;
    while (hi - lo > 1u) {
      let mid = lo + (hi - lo) / 2u;
      if (mass_above(tid, mid) >= goal_mass) { lo = mid; } else { hi = mid; }
    }
    threshold = lo;
  }
  if (params.min_p > 0.0) {
    // The top token's weight is exp(0) = 1.
    threshold = max(threshold, bitcast<u32>(params.min_p));
  }
  let inv_t = 1.0 / max(params.temperature, 1e-6);
  let chunk = (V + WG - 1u) / WG;
  let start = min(tid * chunk, V);
  let end = min(start + chunk, V);
  var part = 0.0;
  for (var i = start; i < end; i++) {
    let p = work[i];
    var w = 0.0;
    if (bitcast<u32>(p) >= threshold && p > 0.0) { w = exp(log(p) * inv_t); }
    work[i] = w;
    part += w;
  }
  fred[tid] = part;
  storageBarrier();
  workgroupBarrier();
  if (tid == 0u) {
    var total = 0.0;
    for (var k = 0u; k < WG; k++) { total += fred[k]; }
    let goal = params.uniform01 * total;
    var acc = 0.0;
    var chosen = top;
    var found = false;
    for (var k = 0u; k < WG && !found; k++) {
      if (acc + fred[k] > goal && fred[k] > 0.0) {
        let s = min(k * chunk, V);
        let e = min(s + chunk, V);
        for (var i = s; i < e && !found; i++) {
          acc += work[i];
          if (acc > goal && work[i] > 0.0) {
            chosen = i;
            found = true;
          }
        }
        if (!found) {
          for (var i = e; i > s; i--) {
            if (work[i - 1u] > 0.0) {
              chosen = i - 1u;
              found = true;
              break;
            }
          }
        }
      } else {
        acc += fred[k];
      }
    }
    result[0] = chosen;
    recent[params.history_end % RING] = chosen;
  }
}
