// Fused dequantize + matrix-vector product for decode (TOKENS 1) and for passes of a few tokens
// (TOKENS 4: four tokens accumulated per read of a weight row). LANES consecutive threads share
// one output row, thread `lane` taking the row's 8-value groups lane, lane + LANES, ... so
// neighbouring threads read neighbouring words; a workgroup of WG threads holds WG / LANES rows.
// The lanes' partial sums meet through subgroup shuffles (SUBGROUPS: the host picks it only where
// every subgroup holds at least LANES threads) or through workgroup memory.
//
// The input arrives normalised (rms-norm.wgsl runs before). Modes: MODE 0 plain, y = W x (+ bias,
// soft-capped with SOFT_CAP); 1 residual, y += W x; 2 SwiGLU and 3 GeGLU over gate and up,
// y = act(Wg x) * (Wu x), read through GATE_OFFSET and UP_OFFSET (the halves of one fused tensor).
// Plain and residual products span up to three segments (q, k, v) concatenated by row: segment s
// starts at row SEGs_START, writes output column OUTs + its row, adds its bias from the vector
// region at BIASs when HAS_BIASs, and rounds its input as llama.cpp does by ROUNDs (0 none, 1 f16,
// 2 bf16, 3 Q8_0 blocks, 4 Q8_K blocks). With UNIFORM_SEGMENTS every segment starts on a
// workgroup boundary, so the segment is chosen once per workgroup: implementations that run every
// branch masked (SwiftShader) then run one segment's code. Weight parts are bound from binding 4
// on and read through `deq_s0`, `deq_s1`, `deq_s2`, declared after this file; a thread reads
// SCALE_GROUPS consecutive groups of a row per decoded scale pair (`deq_sN_scale`, then
// `deq_sN_at`: 32 values of a K-quant), so lanes take units of that many groups in turn. The
// input (binding 1) is declared by product-input.wgsl, before this file: with Q8_INPUT the
// weights are read as int8 blocks (the types dequant.ts gives block readers) and the input
// arrives quantized to 8 bits.
// `Step` is declared in host-structs.ts; T is the compute precision (the kernels' prelude).
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> vecs: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const ROWS_PER_WG = WG / LANES * ROWS_PER_THREAD;
const GROUPS = K / 8u;
#if Q8_INPUT
// What one step of the products' loops over the input takes: a block of 32 values.
const STEPS = K / 32u;
#else
// What one step of the products' loops over the input takes: a group of 8 values.
const STEPS = GROUPS;
#endif
// What a lane takes at a time: SCALE_GROUPS steps sharing one decoded scale pair per row.
const UNITS = STEPS / SCALE_GROUPS;

#if ROUND_Q8_0
var<workgroup> q80_scales: array<vec2f, TOKENS * Q80_BLOCKS>;
#endif
#if ROUND_Q8_K
var<workgroup> q8k_scales: array<vec2f, TOKENS * Q8K_BLOCKS>;
#endif
#if !SUBGROUPS && LANES != 1
var<workgroup> red: array<vec4f, WG>;
#if MODE == 2 || MODE == 3
var<workgroup> red2: array<vec4f, WG>;
#endif
#endif

// The tanh approximation of GELU as ggml's CPU backend evaluates it: its cut-offs at +-10 and,
// between them, its f16 table (the f16 result for the f16-rounded input), so Gemma's FFN agrees
// with llama.cpp; the table's rounding is below what f16 compute rounds anyway.
fn gelu_tanh(v: f32) -> f32 {
  if (v <= -10.0) { return 0.0; }
  if (v >= 10.0) { return v; }
  let h = quantizeToF16(v);
  return quantizeToF16(0.5 * h * (1.0 + tanh(0.797884561 * h * (1.0 + 0.044715 * h * h))));
}

fn round_bf16(v: vec4f) -> vec4f {
  let u = bitcast<vec4u>(v);
  return bitcast<vec4f>((u + vec4u(0x7fffu) + ((u >> vec4u(16u)) & vec4u(1u))) & vec4u(0xffff0000u));
}

#if !SHARED_INPUT
// Step g of the pass's token `token`: values g * 8 .. g * 8 + 7, with Q8_INPUT the block of values
// g * 32 .. g * 32 + 31. (The one-token body with SHARED_INPUT reads `input_q8_shared` instead.)
fn input(token: u32, g: u32) -> InputGroup {
#if Q8_INPUT
  return input_q8(token, g);
#else
  let xi = token * XS + g * 2u;
  return array<vec4f, 2>(x[xi], x[xi + 1u]);
#endif
}
#endif

// Four input values rounded as llama.cpp rounds them for a weight of rounding `mode`; `t` is the
// token's place in the current group of TOKENS, `g` the values' 8-value group.
fn round_input(mode: u32, t: u32, g: u32, v: vec4f) -> vec4f {
  switch (mode) {
    case 1u: { return quantizeToF16(v); }
    case 2u: { return round_bf16(v); }
#if ROUND_Q8_0
    case 3u: {
      let s = q80_scales[t * Q80_BLOCKS + g / 4u];
      return round(v * s.y) * s.x;
    }
#endif
#if ROUND_Q8_K
    case 4u: {
      let s = q8k_scales[t * Q8K_BLOCKS + g / 32u];
      return min(round(v * s.y), vec4f(127.0)) * s.x;
    }
#endif
    default: { return v; }
  }
}

// Eight input values rounded for a weight of rounding `mode` (see `round_input`).
fn round8(mode: u32, t: u32, g: u32, v: InputGroup) -> InputGroup {
#if ROUNDING
  return array<vec4f, 2>(round_input(mode, t, g, v[0]), round_input(mode, t, g, v[1]));
#else
  return v;
#endif
}

// Eight weights times eight input values already rounded for them.
fn dot8_rounded(w: WeightGroup, v: InputGroup) -> f32 {
#if Q8_INPUT
  return dot_q8(w, v);
#else
  return f32(dot(w[0], vec4<T>(v[0])) + dot(w[1], vec4<T>(v[1])));
#endif
}

fn dot8(w: WeightGroup, v: InputGroup, mode: u32, t: u32, g: u32) -> f32 {
  return dot8_rounded(w, round8(mode, t, g, v));
}

#if ROUND_Q8_0 || ROUND_Q8_K
// Per-block scales of the input of tokens first + t0 .. first + t0 + TOKENS - 1, as llama.cpp
// quantizes it: Q8_0 (blocks of 32, f16 scale) and Q8_K (blocks of 256, f32 scale).
fn input_scales(tid: u32, first: u32, t0: u32, ntok: u32) {
#if ROUND_Q8_0
  for (var b = tid; b < Q80_BLOCKS * TOKENS; b += WG) {
    let t = b % TOKENS;
    let blk = b / TOKENS;
    if (t0 + t < ntok) {
      var amax = 0.0;
      for (var g = blk * 4u; g < blk * 4u + 4u; g++) {
        let v = input(first + t0 + t, g);
        amax = max(amax, max(max(abs(v[0].x), abs(v[0].y)), max(abs(v[0].z), abs(v[0].w))));
        amax = max(amax, max(max(abs(v[1].x), abs(v[1].y)), max(abs(v[1].z), abs(v[1].w))));
      }
      q80_scales[t * Q80_BLOCKS + blk] = vec2f(quantizeToF16(amax / 127.0), select(0.0, 127.0 / amax, amax != 0.0));
    }
  }
#endif
#if ROUND_Q8_K
  for (var b = tid; b < Q8K_BLOCKS * TOKENS; b += WG) {
    let t = b % TOKENS;
    let blk = b / TOKENS;
    if (t0 + t < ntok) {
      var amax = 0.0;
      var signed_max = 0.0;
      for (var g = blk * 32u; g < min(blk * 32u + 32u, GROUPS); g++) {
        let v = input(first + t0 + t, g);
        for (var h = 0u; h < 2u; h++) {
          for (var c = 0u; c < 4u; c++) {
            if (abs(v[h][c]) > amax) {
              amax = abs(v[h][c]);
              signed_max = v[h][c];
            }
          }
        }
      }
      let iscale = select(0.0, -127.0 / signed_max, amax != 0.0);
      q8k_scales[t * Q8K_BLOCKS + blk] = vec2f(select(0.0, 1.0 / iscale, amax != 0.0), iscale);
    }
  }
#endif
}
#endif

// The product's row `row` (0 .. ROWS - 1): its segment, the row within the segment.
fn segment_of(row: u32) -> u32 {
#if SEGMENTS == 1 || MODE == 2 || MODE == 3
  return 0u;
#elif SEGMENTS == 2
  return select(0u, 1u, row >= SEG1_START);
#else
  return select(select(0u, 1u, row >= SEG1_START), 2u, row >= SEG2_START);
#endif
}

fn segment_start(seg: u32) -> u32 {
  return select(select(0u, SEG1_START, seg == 1u), SEG2_START, seg == 2u);
}

fn segment_round(seg: u32) -> u32 {
  return select(select(ROUND0, ROUND1, seg == 1u), ROUND2, seg == 2u);
}

fn out_column(seg: u32) -> u32 {
  return select(select(OUT0, OUT1, seg == 1u), OUT2, seg == 2u);
}

fn bias(seg: u32, r: u32) -> f32 {
  if (seg == 0u && HAS_BIAS0) { return vecs[BIAS0 + r]; }
  if (seg == 1u && HAS_BIAS1) { return vecs[BIAS1 + r]; }
  if (seg == 2u && HAS_BIAS2) { return vecs[BIAS2 + r]; }
  return 0.0;
}

// The scale pair of the block or sub-block of row r of segment seg holding group g.
fn weight_scale(seg: u32, r: u32, g: u32) -> vec2<T> {
#if SEGMENTS == 1 || MODE == 2 || MODE == 3
  return deq_s0_scale(r, g);
#elif SEGMENTS == 2
  if (seg == 0u) { return deq_s0_scale(r, g); }
  return deq_s1_scale(r, g);
#else
  if (seg == 0u) { return deq_s0_scale(r, g); }
  if (seg == 1u) { return deq_s1_scale(r, g); }
  return deq_s2_scale(r, g);
#endif
}

// Group g of row r of segment seg, its scale pair `s` decoded by `weight_scale`.
fn weights_at(seg: u32, r: u32, g: u32, s: vec2<T>) -> WeightGroup {
#if SEGMENTS == 1 || MODE == 2 || MODE == 3
  return deq_s0_at(r, g, s);
#elif SEGMENTS == 2
  if (seg == 0u) { return deq_s0_at(r, g, s); }
  return deq_s1_at(r, g, s);
#else
  if (seg == 0u) { return deq_s0_at(r, g, s); }
  if (seg == 1u) { return deq_s1_at(r, g, s); }
  return deq_s2_at(r, g, s);
#endif
}

// A row's scale pairs for the unit of groups from g: xy its own (with MODE 2 or 3 its gate row's),
// zw its up row's.
fn row_scale(at: RowAt, g: u32) -> vec4<T> {
#if MODE == 2 || MODE == 3
  return vec4<T>(deq_s0_scale(at.row + GATE_OFFSET, g), deq_s1_scale(at.row + UP_OFFSET, g));
#else
  return vec4<T>(weight_scale(at.seg, at.r, g), vec2<T>());
#endif
}

// Sums the LANES partial sums of each row into its lane 0.
fn reduce_lanes(tid: u32, lane: u32, v: vec4f) -> vec4f {
#if LANES == 1
  return v;
#elif SUBGROUPS
  var s = v;
  for (var o = LANES / 2u; o > 0u; o >>= 1u) {
    s += subgroupShuffleXor(s, o);
  }
  return s;
#else
  red[tid] = v;
  workgroupBarrier();
  var s = v;
  if (lane == 0u) {
    for (var k = 1u; k < LANES; k++) {
      s += red[tid + k];
    }
  }
  workgroupBarrier();
  return s;
#endif
}

#if MODE == 2 || MODE == 3
fn reduce_lanes2(tid: u32, lane: u32, v: vec4f) -> vec4f {
#if LANES == 1
  return v;
#elif SUBGROUPS
  var s = v;
  for (var o = LANES / 2u; o > 0u; o >>= 1u) {
    s += subgroupShuffleXor(s, o);
  }
  return s;
#else
  red2[tid] = v;
  workgroupBarrier();
  var s = v;
  if (lane == 0u) {
    for (var k = 1u; k < LANES; k++) {
      s += red2[tid + k];
    }
  }
  workgroupBarrier();
  return s;
#endif
}
#endif

fn store(o: u32, seg: u32, r: u32, a: f32, a2: f32) {
#if MODE == 3
  y[o] = gelu_tanh(a) * a2;
#elif MODE == 2
  y[o] = a / (1.0 + exp(-a)) * a2;
#elif MODE == 1
  y[o] = y[o] + a;
#elif HAS_SOFT_CAP
  y[o] = SOFT_CAP * tanh((a + bias(seg, r)) / SOFT_CAP);
#else
  y[o] = a + bias(seg, r);
#endif
}

// A row of the product as one thread holds it: its segment, its row within the segment, its
// input rounding, and whether it exists (rows past ROWS are read clamped and never stored).
struct RowAt { row: u32, seg: u32, r: u32, mode: u32, valid: bool }

fn row_at(group_row: u32, slot: u32) -> RowAt {
  let unclamped = group_row + slot;
  let row = min(unclamped, ROWS - 1u);
#if UNIFORM_SEGMENTS
  let seg = segment_of(min(group_row, ROWS - 1u));
#else
  let seg = segment_of(row);
#endif
#if MODE == 2 || MODE == 3
  let r = row;
#else
  let r = row - segment_start(seg);
#endif
  return RowAt(row, seg, r, segment_round(seg), unclamped < ROWS);
}

fn store_row(t: u32, at: RowAt, a: f32, a2: f32) {
  if (at.valid) {
    let column = select(out_column(at.seg) + at.r, at.row, MODE >= 2u);
    store(t * OUT_STRIDE + column, at.seg, at.r, a, a2);
  }
}

// The tokens a body runs, as (count, first): the pass's last alone with LAST_TOKEN (the output
// layer), else all of them.
fn tokens_run() -> vec2u {
#if LAST_TOKEN
  return vec2u(1u, step.ntok - 1u);
#else
  return vec2u(step.ntok, 0u);
#endif
}

#if TOKENS == 1 && SHARED_INPUT
// The one-token body of 8-bit-input products on CPU-backed adapters (one lane and one row per
// thread, subgroups of at least SHARED_LANES): each input block and each input scale are read once
// for the subgroup (`input_q8_shared`, the scales of eight blocks at a time) and each vector of a
// row's weight scales once for its eight blocks, where every lane's load costs its own
// instructions (docs/performance.md). The blocks are summed in the order of the other bodies, so a
// token's products come out bit for bit the same.
// A row's vector of scales for blocks g .. g + 7 and its block g (`up`: the up row, gated modes).
#if MODE == 2 || MODE == 3
fn scales_of(at: RowAt, g: u32, up: bool) -> vec4u {
  if (up) { return deq_s1_scales(at.row + UP_OFFSET, g); }
  return deq_s0_scales(at.row + GATE_OFFSET, g);
}

fn block_of(at: RowAt, g: u32, up: bool, scales: vec4u) -> Q8Block {
  if (up) { return deq_s1_cached(at.row + UP_OFFSET, g, scales); }
  return deq_s0_cached(at.row + GATE_OFFSET, g, scales);
}
#else
fn scales_of(at: RowAt, g: u32, up: bool) -> vec4u {
#if SEGMENTS == 3
  if (at.seg == 2u) { return deq_s2_scales(at.r, g); }
#endif
#if SEGMENTS >= 2
  if (at.seg == 1u) { return deq_s1_scales(at.r, g); }
#endif
  return deq_s0_scales(at.r, g);
}

fn block_of(at: RowAt, g: u32, up: bool, scales: vec4u) -> Q8Block {
#if SEGMENTS == 3
  if (at.seg == 2u) { return deq_s2_cached(at.r, g, scales); }
#endif
#if SEGMENTS >= 2
  if (at.seg == 1u) { return deq_s1_cached(at.r, g, scales); }
#endif
  return deq_s0_cached(at.r, g, scales);
}
#endif

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) tid: u32,
  @builtin(subgroup_invocation_id) sg_lane: u32,
) {
  let at = row_at((wid.x + wid.y * MAX_WORKGROUPS_X) * ROWS_PER_WG, tid);
  let tokens = tokens_run();
  let ntok = tokens.x;
  let first = tokens.y;
  for (var t = 0u; t < ntok; t++) {
    var acc = 0.0;
    var up = 0.0;
    var scales = vec4u();
    var up_scales = vec4u();
    var x_scales = SharedScales();
    for (var g = 0u; g < STEPS; g++) {
      if (g % 8u == 0u) {
        x_scales = input_scales_shared(first + t, g, sg_lane);
        scales = scales_of(at, g, false);
#if MODE == 2 || MODE == 3
        up_scales = scales_of(at, g, true);
#endif
      }
      let x = input_q8_shared(first + t, g, sg_lane, x_scales);
      acc += dot_q8(block_of(at, g, false, scales), x);
#if MODE == 2 || MODE == 3
      up += dot_q8(block_of(at, g, true, up_scales), x);
#endif
    }
    store_row(t, at, acc, up);
  }
}
#elif TOKENS == 1
// A thread's rows, WG / LANES rows apart, held in the components x, y, z, w of one vec4
// accumulator (the first one or two alone with ROWS_PER_THREAD 1 or 2): accumulators are whole
// vectors with constant components, as dynamic indexing would send them through memory on some
// compilers (SwiftShader's among them).
struct Quad { x: RowAt, y: RowAt, z: RowAt, w: RowAt }

fn quad_at(group_row: u32, slot: u32) -> Quad {
  let apart = WG / LANES;
  return Quad(
    row_at(group_row, slot),
    row_at(group_row, slot + apart),
    row_at(group_row, slot + 2u * apart),
    row_at(group_row, slot + 3u * apart),
  );
}

// An 8-value group of the input rounded for each segment's weights (gate and up: segments 0 and
// 1), once for all of a thread's rows: the rounding depends on the segment, never on the row.
struct Inputs { s0: InputGroup, s1: InputGroup, s2: InputGroup }

fn segment_inputs(g: u32, v: InputGroup) -> Inputs {
  return Inputs(round8(ROUND0, 0u, g, v), round8(ROUND1, 0u, g, v), round8(ROUND2, 0u, g, v));
}

fn input_of(seg: u32, v: Inputs) -> InputGroup {
  if (seg == 1u) { return v.s1; }
  if (seg == 2u) { return v.s2; }
  return v.s0;
}

// The product of one row with the 8-value group `g` of the input `v`, `s` the row's scale pairs
// (`row_scale`): the row's value, and with MODE 2 or 3 its gate (first) and up (second) values.
fn row_products(at: RowAt, g: u32, v: Inputs, s: vec4<T>) -> vec2f {
#if MODE == 2 || MODE == 3
  return vec2f(
    dot8_rounded(deq_s0_at(at.row + GATE_OFFSET, g, s.xy), v.s0),
    dot8_rounded(deq_s1_at(at.row + UP_OFFSET, g, s.zw), v.s1),
  );
#else
  return vec2f(dot8_rounded(weights_at(at.seg, at.r, g, s.xy), input_of(at.seg, v)), 0.0);
#endif
}

// The scale pairs of a quad's rows for the unit of groups from g.
struct QuadScales { x: vec4<T>, y: vec4<T>, z: vec4<T>, w: vec4<T> }

fn quad_scales(q: Quad, g: u32) -> QuadScales {
  var s = QuadScales();
  s.x = row_scale(q.x, g);
#if ROWS_PER_THREAD >= 2
  s.y = row_scale(q.y, g);
#endif
#if ROWS_PER_THREAD >= 4
  s.z = row_scale(q.z, g);
  s.w = row_scale(q.w, g);
#endif
  return s;
}

// Adds a quad's products with group `g` to its accumulators (`up`: the up values, gated modes).
fn accumulate(
  q: Quad,
  g: u32,
  v: Inputs,
  s: QuadScales,
  acc: ptr<function, vec4f>,
  up: ptr<function, vec4f>,
) {
  let x = row_products(q.x, g, v, s.x);
  (*acc).x += x.x;
  (*up).x += x.y;
#if ROWS_PER_THREAD >= 2
  let y = row_products(q.y, g, v, s.y);
  (*acc).y += y.x;
  (*up).y += y.y;
#endif
#if ROWS_PER_THREAD >= 4
  let z = row_products(q.z, g, v, s.z);
  let w = row_products(q.w, g, v, s.w);
  (*acc).z += z.x;
  (*up).z += z.y;
  (*acc).w += w.x;
  (*up).w += w.y;
#endif
}

// Sums a quad's lanes and stores its rows (lane 0 holds the sums).
fn finish_quad(tid: u32, lane: u32, t: u32, q: Quad, acc: vec4f, up: vec4f) {
  let a = reduce_lanes(tid, lane, acc);
#if MODE == 2 || MODE == 3
  let u = reduce_lanes2(tid, lane, up);
#else
  let u = up;
#endif
  if (lane == 0u) {
    store_row(t, q.x, a.x, u.x);
#if ROWS_PER_THREAD >= 2
    store_row(t, q.y, a.y, u.y);
#endif
#if ROWS_PER_THREAD >= 4
    store_row(t, q.z, a.z, u.z);
    store_row(t, q.w, a.w, u.w);
#endif
  }
}

// The one-token body: each thread holds ROWS_PER_THREAD rows (1, 2 or 4), WG / LANES rows apart,
// and reads each input value once for all of them, so a load of the input serves several rows
// (what counts where every load is costly, as on CPU-backed adapters).
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let lane = tid % LANES;
  let slot = tid / LANES;
  let group_row = (wid.x + wid.y * MAX_WORKGROUPS_X) * ROWS_PER_WG;
  let rows = quad_at(group_row, slot);
  let tokens = tokens_run();
  let ntok = tokens.x;
  let first = tokens.y;
  for (var t = 0u; t < ntok; t++) {
#if ROUND_Q8_0 || ROUND_Q8_K
    input_scales(tid, first, t, ntok);
    workgroupBarrier();
#endif
    var acc = vec4f(0.0);
    var up = vec4f(0.0);
    for (var u = lane; u < UNITS; u += LANES) {
      let s = quad_scales(rows, u * SCALE_GROUPS);
      for (var g = u * SCALE_GROUPS; g < (u + 1u) * SCALE_GROUPS; g++) {
        let v = segment_inputs(g, input(first + t, g));
        accumulate(rows, g, v, s, &acc, &up);
      }
    }
    finish_quad(tid, lane, t, rows, acc, up);
#if ROUND_Q8_0 || ROUND_Q8_K
    workgroupBarrier();
#endif
  }
}
#else
// The body of passes of several tokens: TOKENS (4) tokens per read of a weight row.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let lane = tid % LANES;
  let at = row_at((wid.x + wid.y * MAX_WORKGROUPS_X) * ROWS_PER_WG, tid / LANES);
  let mode = at.mode;
  let tokens = tokens_run();
  let ntok = tokens.x;
  let first = tokens.y;
  for (var t0 = 0u; t0 < ntok; t0 += TOKENS) {
#if ROUND_Q8_0 || ROUND_Q8_K
    input_scales(tid, first, t0, ntok);
    workgroupBarrier();
#endif
    var acc = vec4f(0.0);
    var acc2 = vec4f(0.0);
    for (var u = lane; u < UNITS; u += LANES) {
      let s = row_scale(at, u * SCALE_GROUPS);
      for (var g = u * SCALE_GROUPS; g < (u + 1u) * SCALE_GROUPS; g++) {
#if MODE == 2 || MODE == 3
        let w = deq_s0_at(at.row + GATE_OFFSET, g, s.xy);
        let w2 = deq_s1_at(at.row + UP_OFFSET, g, s.zw);
        let mode2 = ROUND1;
#else
        let w = weights_at(at.seg, at.r, g, s.xy);
#endif
        // Unrolled with constant vector components: dynamic indexing of acc sends some compilers
        // (SwiftShader's among them) through memory on every step.
        let v0 = input(first + t0, g);
        acc.x += dot8(w, v0, mode, 0u, g);
#if MODE == 2 || MODE == 3
        acc2.x += dot8(w2, v0, mode2, 0u, g);
#endif
        if (t0 + 1u < ntok) {
          let v1 = input(first + t0 + 1u, g);
          acc.y += dot8(w, v1, mode, 1u, g);
#if MODE == 2 || MODE == 3
          acc2.y += dot8(w2, v1, mode2, 1u, g);
#endif
        }
        if (t0 + 2u < ntok) {
          let v2 = input(first + t0 + 2u, g);
          acc.z += dot8(w, v2, mode, 2u, g);
#if MODE == 2 || MODE == 3
          acc2.z += dot8(w2, v2, mode2, 2u, g);
#endif
        }
        if (t0 + 3u < ntok) {
          let v3 = input(first + t0 + 3u, g);
          acc.w += dot8(w, v3, mode, 3u, g);
#if MODE == 2 || MODE == 3
          acc2.w += dot8(w2, v3, mode2, 3u, g);
#endif
        }
      }
    }
    acc = reduce_lanes(tid, lane, acc);
#if MODE == 2 || MODE == 3
    acc2 = reduce_lanes2(tid, lane, acc2);
#endif
    if (lane == 0u) {
      store_row(t0, at, acc.x, acc2.x);
      if (t0 + 1u < ntok) { store_row(t0 + 1u, at, acc.y, acc2.y); }
      if (t0 + 2u < ntok) { store_row(t0 + 2u, at, acc.z, acc2.z); }
      if (t0 + 3u < ntok) { store_row(t0 + 3u, at, acc.w, acc2.w); }
    }
#if ROUND_Q8_0 || ROUND_Q8_K
    workgroupBarrier();
#endif
  }
}
#endif
