// A product's input as the matrix-vector kernels and the GEMM read it (binding 1): with Q8_INPUT
// quantized by quantize-input.wgsl, a step of their loops taking a block of 32 of a Q8_0 weight
// row and of a token's input, multiplied with integer dot products (`dot_q8`); else the f32
// values, a step taking a group of 8. WeightGroup and InputGroup are what a step takes.
#if Q8_INPUT
alias WeightGroup = Q8Block;
alias InputGroup = Q8Block;
// Per token XQS4 vectors of four words: the quants of its blocks (two vectors each), then their
// f32 scales from vector SCALES4 on.
@group(0) @binding(1) var<storage, read> xq: array<vec4u>;

// Block `blk` (values blk * 32 .. blk * 32 + 31) of token `token`.
fn input_q8(token: u32, blk: u32) -> Q8Block {
  let base = token * XQS4;
  let scale = bitcast<f32>(xq[base + SCALES4 + blk / 4u][blk % 4u]);
  return Q8Block(xq[base + blk * 2u], xq[base + blk * 2u + 1u], scale);
}
#else
alias WeightGroup = array<vec4<T>, 2>;
alias InputGroup = array<vec4f, 2>;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
#endif
