// Tiled dequantize + matrix-matrix product for passes of more than one token (prefill). A
// workgroup computes a tile of TILE_TOKENS tokens x TILE_ROWS weight rows and every thread a
// 4-token x ROWS_PER_THREAD-row block of it in registers, so each weight is read once per 4
// tokens and each input value once per ROWS_PER_THREAD rows. With STAGED (8 rows per thread), per
// step of TILE_K input values the tile's weights are dequantized once into workgroup memory beside
// the tokens' inputs, so a weight is read from memory once per TILE_TOKENS tokens (GPUs). Without
// (16 rows per thread), each thread reads its own rows and tokens straight from the buffers: on
// CPU-backed adapters workgroup memory is loaded lane by lane like any buffer, so staging only
// adds loads. With SHARED_WEIGHTS (unstaged, the workgroup one subgroup of LANES threads), each
// thread holds all the tile's ROWS_PER_THREAD rows for its 4 tokens: a weight step is read by one
// lane, each lane reading another of LANES rows, and shuffled to the others, so a thread's loads
// are mostly its tokens' inputs, read once per ROWS_PER_THREAD rows.
//
// The input is read as it is (the RMSNorm of the input runs before, in a pass of its own). Modes:
// MODE 0 plain, y = W x (+ bias); 1 residual, y += W x; 2 SwiGLU and 3 GeGLU over gate and up,
// y = act(Wg x) * (Wu x). In the gated modes each 8 rows of a thread are 4 gate rows and the
// same 4 up rows, so a tile holds TILE_ROWS / 2 output rows.
// Plain and residual products span up to three segments (q, k, v), concatenated by row: segment s
// starts at row SEGs_START, writes output column OUTs + its row, and adds its bias from the
// vector region at BIASs when HAS_BIASs. The gated modes read gate through `deq_s0` and up through
// `deq_s1`, at rows GATE_OFFSET and UP_OFFSET on (the halves of one fused tensor where the
// architecture fuses them, else two tensors from row 0). Weight parts are bound from binding 4 on
// and read through `deq_s0`, `deq_s1`, `deq_s2`, declared after this file; the staged tile decodes
// a row's scale pair once per SCALE_GROUPS groups (a K-quant's sub-block). The input (binding 1) is
// declared by product-input.wgsl, before this file: with Q8_INPUT (unstaged only) the weights are
// read as int8 blocks and the input arrives quantized to 8 bits, multiplied as the matrix-vector
// kernel does. `Step` is declared in host-structs.ts; T is the compute precision (kernels' prelude).
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> vecs: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const ROW_THREADS = TILE_ROWS / ROWS_PER_THREAD;
const WG = (TILE_TOKENS / 4u) * ROW_THREADS;
const GROUPS = K / 8u;
#if Q8_INPUT
// What one step of the unstaged loop over the input takes: a block of 32 values.
const STEPS = K / 32u;
#else
// What one step of the unstaged loop over the input takes: a group of 8 values.
const STEPS = GROUPS;
#endif
#if MODE == 2 || MODE == 3
const OUT_ROWS_PER_TILE = TILE_ROWS / 2u;
#else
const OUT_ROWS_PER_TILE = TILE_ROWS;
#endif

#if STAGED
// xs[k][token] and ws[k][column], four tokens or columns per vector.
var<workgroup> xs: array<vec4<T>, TILE_K * TILE_TOKENS / 4u>;
var<workgroup> ws: array<vec4<T>, TILE_K * TILE_ROWS / 4u>;
#endif

// The weight row of the tile's column `column`, the tile's first output row being `row0`, as
// (segment, row within its tensor); in the gated modes segment 0 is gate and 1 up. Rows past the
// end are read clamped and never stored.
fn column_row(row0: u32, column: u32) -> vec2u {
#if MODE == 2 || MODE == 3
  let row = min(row0 + (column / 8u) * 4u + column % 4u, ROWS - 1u);
  if ((column & 4u) == 0u) {
    return vec2u(0u, row + GATE_OFFSET);
  }
  return vec2u(1u, row + UP_OFFSET);
#else
  let n = min(row0 + column, ROWS - 1u);
#if SEGMENTS == 3
  if (n >= SEG2_START) {
    return vec2u(2u, n - SEG2_START);
  }
#endif
#if SEGMENTS != 1
  if (n >= SEG1_START) {
    return vec2u(1u, n - SEG1_START);
  }
#endif
  return vec2u(0u, n);
#endif
}

// The scale pair of the block or sub-block of weight row `c` (`column_row`) holding group g.
fn weight_scale(c: vec2u, g: u32) -> vec2<T> {
#if SEGMENTS == 3
  if (c.x == 2u) {
    return deq_s2_scale(c.y, g);
  }
#endif
#if SEGMENTS != 1
  if (c.x == 1u) {
    return deq_s1_scale(c.y, g);
  }
#endif
  return deq_s0_scale(c.y, g);
}

// Step g (as `input`) of weight row `c`, its scale pair `s` decoded by `weight_scale`.
fn weights_at(c: vec2u, g: u32, s: vec2<T>) -> WeightGroup {
#if SEGMENTS == 3
  if (c.x == 2u) {
    return deq_s2_at(c.y, g, s);
  }
#endif
#if SEGMENTS != 1
  if (c.x == 1u) {
    return deq_s1_at(c.y, g, s);
  }
#endif
  return deq_s0_at(c.y, g, s);
}

fn weights(c: vec2u, g: u32) -> WeightGroup {
  return weights_at(c, g, weight_scale(c, g));
}

#if MODE == 0 || MODE == 1
// Output column of concatenated row n and the bias added to it.
fn out_column(n: u32) -> u32 {
#if SEGMENTS == 3
  if (n >= SEG2_START) {
    return OUT2 + n - SEG2_START;
  }
#endif
#if SEGMENTS != 1
  if (n >= SEG1_START) {
    return OUT1 + n - SEG1_START;
  }
#endif
  return OUT0 + n;
}

fn bias(n: u32) -> f32 {
#if SEGMENTS == 3
  if (n >= SEG2_START) {
#if HAS_BIAS2
    return vecs[BIAS2 + n - SEG2_START];
#else
    return 0.0;
#endif
  }
#endif
#if SEGMENTS != 1
  if (n >= SEG1_START) {
#if HAS_BIAS1
    return vecs[BIAS1 + n - SEG1_START];
#else
    return 0.0;
#endif
  }
#endif
#if HAS_BIAS0
  return vecs[BIAS0 + n];
#else
  return 0.0;
#endif
}
#endif

#if MODE == 3
// The tanh approximation of GELU as ggml's CPU backend evaluates it (see matmul.ts).
fn gelu_tanh(v: f32) -> f32 {
  if (v <= -10.0) { return 0.0; }
  if (v >= 10.0) { return v; }
  let h = quantizeToF16(v);
  return quantizeToF16(0.5 * h * (1.0 + tanh(0.797884561 * h * (1.0 + 0.044715 * h * h))));
}
#endif

#if MODE == 2 || MODE == 3
// Token t's output rows n0 .. n0 + 3 from their gate and up sums.
fn store(t: u32, n0: u32, gate: vec4f, up: vec4f) {
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n < ROWS) {
#if MODE == 2
      y[t * OUT_STRIDE + n] = gate[j] / (1.0 + exp(-gate[j])) * up[j];
#else
      y[t * OUT_STRIDE + n] = gelu_tanh(gate[j]) * up[j];
#endif
    }
  }
}
#else
// Token t's output rows n0 .. n0 + 3.
fn store_rows(t: u32, n0: u32, a: vec4f) {
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n < ROWS) {
      let o = t * OUT_STRIDE + out_column(n);
#if MODE == 1
      y[o] = y[o] + a[j];
#else
      y[o] = a[j] + bias(n);
#endif
    }
  }
}

fn store(t: u32, n0: u32, a: vec4f, b: vec4f) {
  store_rows(t, n0, a);
  store_rows(t, n0 + 4u, b);
}
#endif

#if !STAGED
// Step g of token t (values g * 8 .. g * 8 + 7, with Q8_INPUT the block g * 32 .. g * 32 + 31);
// tokens past the pass read its last token's, never stored.
fn input(t: u32, ntok: u32, g: u32) -> InputGroup {
#if Q8_INPUT
  return input_q8(min(t, ntok - 1u), g);
#else
  let xi = min(t, ntok - 1u) * XS + g * 2u;
  return array<vec4f, 2>(x[xi], x[xi + 1u]);
#endif
}

fn dot8(w: WeightGroup, v: InputGroup) -> f32 {
#if Q8_INPUT
  return dot_q8(w, v);
#else
  return dot(vec4f(w[0]), v[0]) + dot(vec4f(w[1]), v[1]);
#endif
}

#if SHARED_WEIGHTS && Q8_INPUT
// A token's input block with its quants unpacked once for all the tile's rows, where each row's
// product would unpack them again.
struct TokenInput {
  lo: array<vec4i, 4>,
  hi: array<vec4i, 4>,
  d: f32,
  m: f32,
}

fn token_input(t: u32, ntok: u32, g: u32) -> TokenInput {
  let x = input(t, ntok, g);
  return TokenInput(
    array<vec4i, 4>(unpack4xI8(x.lo.x), unpack4xI8(x.lo.y), unpack4xI8(x.lo.z), unpack4xI8(x.lo.w)),
    array<vec4i, 4>(unpack4xI8(x.hi.x), unpack4xI8(x.hi.y), unpack4xI8(x.hi.z), unpack4xI8(x.hi.w)),
    x.d,
    x.m,
  );
}

// `dot_q8` over an unpacked input block: the same integer sums, so the same bits.
fn token_dot(w: Q8Block, x: TokenInput) -> f32 {
  let lo = dot(unpack4xI8(w.lo.x), x.lo[0]) + dot(unpack4xI8(w.lo.y), x.lo[1]) +
    dot(unpack4xI8(w.lo.z), x.lo[2]) + dot(unpack4xI8(w.lo.w), x.lo[3]);
  let hi = dot(unpack4xI8(w.hi.x), x.hi[0]) + dot(unpack4xI8(w.hi.y), x.hi[1]) +
    dot(unpack4xI8(w.hi.z), x.hi[2]) + dot(unpack4xI8(w.hi.w), x.hi[3]);
#if Q8_SUMS
  return f32(lo * w.s.x + hi * w.s.y) * (w.d * x.d) - w.m * x.m;
#else
  return f32(lo + hi) * (w.d * x.d);
#endif
}
#else
alias TokenInput = InputGroup;

fn token_input(t: u32, ntok: u32, g: u32) -> TokenInput {
  return input(t, ntok, g);
}

fn token_dot(w: WeightGroup, x: TokenInput) -> f32 {
  return dot8(w, x);
}
#endif

#if SHARED_WEIGHTS
// Lane `lane`'s weight step `w`, as every lane of the workgroup's one subgroup receives it.
fn lane_weights(w: WeightGroup, lane: u32) -> WeightGroup {
#if Q8_INPUT
  return Q8Block(
    subgroupShuffle(w.lo, lane),
    subgroupShuffle(w.hi, lane),
    subgroupShuffle(w.d, lane),
    subgroupShuffle(w.m, lane),
    subgroupShuffle(w.s, lane),
  );
#else
  return array<vec4<T>, 2>(lane_vector(w[0], lane), lane_vector(w[1], lane));
#endif
}

// f16 values cross lanes as words: subgroup operations on f16 need a feature of their own.
fn lane_vector(v: vec4<T>, lane: u32) -> vec4<T> {
#if F16
  return bitcast<vec4<T>>(subgroupShuffle(bitcast<vec2u>(v), lane));
#else
  return subgroupShuffle(v, lane);
#endif
}
#endif

#endif

// Tokens t .. t + 3 of the tile's 8-column block number `nb` (a: its columns 0-3, b: 4-7).
fn store_block(t: u32, ntok: u32, row0: u32, nb: u32, a: array<vec4f, 4>, b: array<vec4f, 4>) {
#if MODE == 2 || MODE == 3
  let n0 = row0 + nb * 4u;
#else
  let n0 = row0 + nb * 8u;
#endif
  if (t < ntok) { store(t, n0, a[0], b[0]); }
  if (t + 1u < ntok) { store(t + 1u, n0, a[1], b[1]); }
  if (t + 2u < ntok) { store(t + 2u, n0, a[2], b[2]); }
  if (t + 3u < ntok) { store(t + 3u, n0, a[3], b[3]); }
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_index) lid: u32,
#if SHARED_WEIGHTS
  @builtin(subgroup_invocation_id) lane: u32,
#endif
) {
  let ntok = step.ntok;
  let row0 = wid.x * OUT_ROWS_PER_TILE;
  let t0 = wid.y * TILE_TOKENS;
  let tr = lid % ROW_THREADS;
  let tt = lid / ROW_THREADS;
  let t = t0 + tt * 4u;
#if STAGED
  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  var b0 = vec4f(0.0);
  var b1 = vec4f(0.0);
  var b2 = vec4f(0.0);
  var b3 = vec4f(0.0);
  for (var k0 = 0u; k0 < K; k0 += TILE_K) {
    // Each thread stages units of SCALE_GROUPS groups of one row, decoding their scale pair once.
    for (var e = lid; e < TILE_ROWS * (TILE_K / 8u / SCALE_GROUPS); e += WG) {
      let column = e % TILE_ROWS;
      let row = column_row(row0, column);
      let gk0 = (e / TILE_ROWS) * SCALE_GROUPS;
      let g0 = k0 / 8u + gk0;
      var s = vec2<T>();
      if (g0 < GROUPS) {
        s = weight_scale(row, g0);
      }
      let c = column / 4u;
      let lane = column % 4u;
      for (var gk = gk0; gk < gk0 + SCALE_GROUPS; gk++) {
        var w = array<vec4<T>, 2>(vec4<T>(0.0), vec4<T>(0.0));
        if (g0 < GROUPS) {
          w = weights_at(row, k0 / 8u + gk, s);
        }
        for (var i = 0u; i < 4u; i++) {
          ws[(gk * 8u + i) * (TILE_ROWS / 4u) + c][lane] = w[0][i];
          ws[(gk * 8u + 4u + i) * (TILE_ROWS / 4u) + c][lane] = w[1][i];
        }
      }
    }
    for (var e = lid; e < TILE_TOKENS * (TILE_K / 4u); e += WG) {
      let k4 = e % (TILE_K / 4u);
      let token = e / (TILE_K / 4u);
      var v = vec4f(0.0);
      if (t0 + token < ntok && k0 + k4 * 4u < K) {
        v = x[(t0 + token) * XS + k0 / 4u + k4];
      }
      let c = token / 4u;
      let lane = token % 4u;
      for (var i = 0u; i < 4u; i++) {
        xs[(k4 * 4u + i) * (TILE_TOKENS / 4u) + c][lane] = T(v[i]);
      }
    }
    workgroupBarrier();
    for (var k = 0u; k < TILE_K; k++) {
      let xv = vec4f(xs[k * (TILE_TOKENS / 4u) + tt]);
      let w0 = vec4f(ws[k * (TILE_ROWS / 4u) + tr * 2u]);
      let w1 = vec4f(ws[k * (TILE_ROWS / 4u) + tr * 2u + 1u]);
      a0 = fma(vec4f(xv.x), w0, a0);
      b0 = fma(vec4f(xv.x), w1, b0);
      a1 = fma(vec4f(xv.y), w0, a1);
      b1 = fma(vec4f(xv.y), w1, b1);
      a2 = fma(vec4f(xv.z), w0, a2);
      b2 = fma(vec4f(xv.z), w1, b2);
      a3 = fma(vec4f(xv.w), w0, a3);
      b3 = fma(vec4f(xv.w), w1, b3);
    }
    workgroupBarrier();
  }
  store_block(t, ntok, row0, tr, array<vec4f, 4>(a0, a1, a2, a3), array<vec4f, 4>(b0, b1, b2, b3));
#else
  // sums[j][i]: the thread's column j (column tr * ROWS_PER_THREAD + j of the tile), token t + i.
  // One loop over (group, column) pairs: a loop over the columns inside one over the groups gets
  // unrolled, a dequantization inlined per column, segment and part, which lavapipe takes tens of
  // seconds to compile.
  var sums: array<vec4f, ROWS_PER_THREAD>;
  var x0: TokenInput;
  var x1: TokenInput;
  var x2: TokenInput;
  var x3: TokenInput;
  // A thread whose tokens all lie past the pass skips the loop (a short prompt fills part of a
  // token tile; lavapipe leaves a loop once none of a SIMD vector's lanes runs it), except where
  // its lane reads weights for the others: then it runs every step, on the pass's last token.
#if SHARED_WEIGHTS
  var own: WeightGroup;
  for (var e = 0u; e < STEPS * ROWS_PER_THREAD; e++) {
#else
  for (var e = 0u; t < ntok && e < STEPS * ROWS_PER_THREAD; e++) {
#endif
    let g = e / ROWS_PER_THREAD;
    let j = e % ROWS_PER_THREAD;
    if (j == 0u) {
      x0 = token_input(t, ntok, g);
      x1 = token_input(t + 1u, ntok, g);
      x2 = token_input(t + 2u, ntok, g);
      x3 = token_input(t + 3u, ntok, g);
    }
#if SHARED_WEIGHTS
    if (j % LANES == 0u) {
      own = weights(column_row(row0, j + lane), g);
    }
    let w = lane_weights(own, j % LANES);
#else
    let w = weights(column_row(row0, tr * ROWS_PER_THREAD + j), g);
#endif
    sums[j] += vec4f(token_dot(w, x0), token_dot(w, x1), token_dot(w, x2), token_dot(w, x3));
  }
  for (var nb = 0u; nb < ROWS_PER_THREAD / 8u; nb++) {
    let c = nb * 8u;
    var a: array<vec4f, 4>;
    var b: array<vec4f, 4>;
    for (var i = 0u; i < 4u; i++) {
      a[i] = vec4f(sums[c][i], sums[c + 1u][i], sums[c + 2u][i], sums[c + 3u][i]);
      b[i] = vec4f(sums[c + 4u][i], sums[c + 5u][i], sums[c + 6u][i], sums[c + 7u][i]);
    }
    store_block(t, ntok, row0, tr * (ROWS_PER_THREAD / 8u) + nb, a, b);
  }
#endif
}
