// A product's input as the matrix-vector kernels and the GEMM read it (binding 1): with Q8_INPUT
// quantized by quantize-input.wgsl, a step of their loops taking a block of 32 of a weight row
// (as int8 values) and of a token's input, multiplied with integer dot products (`dot_q8`); else
// the f32 values, a step taking a group of 8. WeightGroup and InputGroup are what a step takes.
// Q8_SUMS: the input is quantized as Q8_K (for K-quant weights), each block's d times the sum of
// its quants following the scales from vector SUMS4 on.
#if Q8_INPUT
alias WeightGroup = Q8Block;
alias InputGroup = Q8Block;

// A weight block times an input block as llama.cpp's CPU backend multiplies such blocks: the
// exact integer dot product, scaled once; with Q8_SUMS (K-quant weights) each half times its
// integer scale, less the offset's product. (Blocks against Q8_0 inputs carry none: their sum
// is written without, so that no compiler is left a multiply by one or a subtracted zero.)
fn dot_q8(w: Q8Block, x: Q8Block) -> f32 {
  let lo = dot4I8Packed(w.lo.x, x.lo.x) + dot4I8Packed(w.lo.y, x.lo.y) +
    dot4I8Packed(w.lo.z, x.lo.z) + dot4I8Packed(w.lo.w, x.lo.w);
  let hi = dot4I8Packed(w.hi.x, x.hi.x) + dot4I8Packed(w.hi.y, x.hi.y) +
    dot4I8Packed(w.hi.z, x.hi.z) + dot4I8Packed(w.hi.w, x.hi.w);
#if Q8_SUMS
  return f32(lo * w.s.x + hi * w.s.y) * (w.d * x.d) - w.m * x.m;
#else
  return f32(lo + hi) * (w.d * x.d);
#endif
}
// Per token XQS4 vectors of four words: the quants of its blocks (two vectors each), then their
// f32 scales from vector SCALES4 on.
#if SHARED_INPUT
// Read as words by the one-token body with SHARED_INPUT (matvec.wgsl, subgroups of at least
// SHARED_LANES): eight consecutive words (a block's quants, or the scales of eight blocks) are
// loaded once for the subgroup, SHARED_LANES lanes holding them between them, and shuffled to
// every lane. On CPU-backed adapters every lane of a load costs its own instructions, so the
// input, the same for every row, costs an eighth of the loads read this way (docs/performance.md).
@group(0) @binding(1) var<storage, read> xq: array<u32>;

#if SHARED_LANES == 8
alias SharedWords = u32;

// This lane's part of the eight words from `at` (none past `last`).
fn shared_words(at: u32, last: u32, lane: u32) -> SharedWords {
  return xq[min(at + lane % 8u, last)];
}

// Word i of the eight (every lane of the subgroup calls it together).
fn shared_word(w: SharedWords, i: u32) -> u32 {
  return subgroupShuffle(w, i);
}
#else
alias SharedWords = vec2u;

fn shared_words(at: u32, last: u32, lane: u32) -> SharedWords {
  return vec2u(xq[min(at + lane % 4u, last)], xq[min(at + 4u + lane % 4u, last)]);
}

fn shared_word(w: SharedWords, i: u32) -> u32 {
  return subgroupShuffle(select(w.x, w.y, i >= 4u), i % 4u);
}
#endif

// The scales (and with Q8_SUMS the offsets' scales) of eight blocks of a token.
struct SharedScales {
  d: SharedWords,
#if Q8_SUMS
  m: SharedWords,
#endif
}

// The scales of token `token`'s blocks blk .. blk + 7 (those it has), for `input_q8_shared`.
fn input_scales_shared(token: u32, blk: u32, lane: u32) -> SharedScales {
  let scales = token * XQS4 * 4u + SCALES4 * 4u;
  var s: SharedScales;
  s.d = shared_words(scales + blk, scales + K / 32u - 1u, lane);
#if Q8_SUMS
  let sums = token * XQS4 * 4u + SUMS4 * 4u;
  s.m = shared_words(sums + blk, sums + K / 32u - 1u, lane);
#endif
  return s;
}

// Block `blk` of token `token`, its scales taken from `scales` (read at the block's group of 8).
fn input_q8_shared(token: u32, blk: u32, lane: u32, scales: SharedScales) -> Q8Block {
  let at = token * XQS4 * 4u + blk * 8u;
  let w = shared_words(at, at + 7u, lane);
#if Q8_SUMS
  let m = bitcast<f32>(shared_word(scales.m, blk % 8u));
#else
  let m = 0.0;
#endif
  return Q8Block(
    vec4u(shared_word(w, 0u), shared_word(w, 1u), shared_word(w, 2u), shared_word(w, 3u)),
    vec4u(shared_word(w, 4u), shared_word(w, 5u), shared_word(w, 6u), shared_word(w, 7u)),
    bitcast<f32>(shared_word(scales.d, blk % 8u)),
    m,
    vec2i(1),
  );
}
#else
@group(0) @binding(1) var<storage, read> xq: array<vec4u>;

// Block `blk` (values blk * 32 .. blk * 32 + 31) of token `token`.
fn input_q8(token: u32, blk: u32) -> Q8Block {
  let base = token * XQS4;
  let scale = bitcast<f32>(xq[base + SCALES4 + blk / 4u][blk % 4u]);
#if Q8_SUMS
  let m = bitcast<f32>(xq[base + SUMS4 + blk / 4u][blk % 4u]);
#else
  let m = 0.0;
#endif
  return Q8Block(xq[base + blk * 2u], xq[base + blk * 2u + 1u], scale, m, vec2i(1));
}
#endif
#else
alias WeightGroup = array<vec4<T>, 2>;
alias InputGroup = array<vec4f, 2>;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
#endif
