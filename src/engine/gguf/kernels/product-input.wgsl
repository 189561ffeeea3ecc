// A product's input as the matrix-vector kernels and the GEMM read it (binding 1): with Q8_INPUT
// quantized by quantize-input.wgsl, a step of their loops taking a block of 32 of a Q8_0 weight
// row and of a token's input, multiplied with integer dot products (`dot_q8`); else the f32
// values, a step taking a group of 8. WeightGroup and InputGroup are what a step takes.
#if Q8_INPUT
alias WeightGroup = Q8Block;
alias InputGroup = Q8Block;
// Per token XQS4 vectors of four words: the quants of its blocks (two vectors each), then their
// f32 scales from vector SCALES4 on.
#if SHARED_INPUT
// Read as words by the one-token body with SHARED_INPUT (matvec.wgsl, subgroups of at least 4).
@group(0) @binding(1) var<storage, read> xq: array<u32>;

// Block `blk` of token `token` read once for the subgroup: each lane loads two of its eight quant
// words and lanes 0-3 broadcast theirs (every lane of the subgroup calls it together). On
// CPU-backed adapters every lane of a load costs its own instructions, so the input, the same
// for every row, costs a quarter of the loads read this way (docs/performance.md).
fn input_q8_shared(token: u32, blk: u32, lane: u32) -> Q8Block {
  let base = token * XQS4 * 4u;
  let lo = xq[base + blk * 8u + lane % 4u];
  let hi = xq[base + blk * 8u + 4u + lane % 4u];
  let quants_lo = vec4u(
    subgroupBroadcast(lo, 0u),
    subgroupBroadcast(lo, 1u),
    subgroupBroadcast(lo, 2u),
    subgroupBroadcast(lo, 3u),
  );
  let quants_hi = vec4u(
    subgroupBroadcast(hi, 0u),
    subgroupBroadcast(hi, 1u),
    subgroupBroadcast(hi, 2u),
    subgroupBroadcast(hi, 3u),
  );
  return Q8Block(quants_lo, quants_hi, bitcast<f32>(xq[base + SCALES4 * 4u + blk]));
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
