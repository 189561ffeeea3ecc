// A product's input as the matrix-vector kernels and the GEMM read it (binding 1): with Q8_INPUT
// quantized by quantize-input.wgsl, a step of their loops taking a block of 32 of a weight row
// (Q8_0, Q5_0 or Q4_0, as int8 values) and of a token's input, multiplied with integer dot products
// (`dot_q8`); else the f32 values, a step taking a group of 8. WeightGroup and InputGroup are what
// a step takes.
#if Q8_INPUT
alias WeightGroup = Q8Block;
alias InputGroup = Q8Block;
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

// The scales of token `token`'s blocks blk .. blk + 7 (those it has), for `input_q8_shared`.
fn input_scales_shared(token: u32, blk: u32, lane: u32) -> SharedWords {
  let scales = token * XQS4 * 4u + SCALES4 * 4u;
  return shared_words(scales + blk, scales + K / 32u - 1u, lane);
}

// Block `blk` of token `token`, its scale taken from `scales` (read at the block's group of 8).
fn input_q8_shared(token: u32, blk: u32, lane: u32, scales: SharedWords) -> Q8Block {
  let at = token * XQS4 * 4u + blk * 8u;
  let w = shared_words(at, at + 7u, lane);
  return Q8Block(
    vec4u(shared_word(w, 0u), shared_word(w, 1u), shared_word(w, 2u), shared_word(w, 3u)),
    vec4u(shared_word(w, 4u), shared_word(w, 5u), shared_word(w, 6u), shared_word(w, 7u)),
    bitcast<f32>(shared_word(scales, blk % 8u)),
  );
}
#else
@group(0) @binding(1) var<storage, read> xq: array<vec4u>;

// Block `blk` (values blk * 32 .. blk * 32 + 31) of token `token`.
fn input_q8(token: u32, blk: u32) -> Q8Block {
  let base = token * XQS4;
  let scale = bitcast<f32>(xq[base + SCALES4 + blk / 4u][blk % 4u]);
  return Q8Block(xq[base + blk * 2u], xq[base + blk * 2u + 1u], scale);
}
#endif
#else
alias WeightGroup = array<vec4<T>, 2>;
alias InputGroup = array<vec4f, 2>;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
#endif
