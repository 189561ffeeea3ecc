// The pass's input as quantize-input.wgsl writes it: per token XQS4 vectors of four words, the
// quants of its blocks of 32 (two vectors each), then their f32 scales from vector SCALES4 on.
@group(0) @binding(1) var<storage, read> xq: array<vec4u>;

// Block `blk` (values blk * 32 .. blk * 32 + 31) of token `token`.
fn input_q8(token: u32, blk: u32) -> Q8Block {
  let base = token * XQS4;
  let scale = bitcast<f32>(xq[base + SCALES4 + blk / 4u][blk % 4u]);
  return Q8Block(xq[base + blk * 2u], xq[base + blk * 2u + 1u], scale);
}
