// Block `blk` (32 values) of a Q5_K row as int8 values, for products with Q8_K inputs: weights
// bound as vectors of four words ($W), a block of 256 eleven vectors (deq_q5_k.wgsl: the head
// vector, two vectors of high bits, bit j of byte l for value l of sub-block j, then the nibbles
// laid out as in Q4_K from vector 3). `$F_scales` and `$F_cached` as in deq_q4_k_blocks.wgsl.
fn $F_scales(row: u32, blk: u32) -> vec4u {
  return $W[row * $ROW4 + (blk / 8u) * 11u];
}

fn $F_cached(row: u32, blk: u32, head: vec4u) -> Q8Block {
  let j = blk % 8u;
  let b = row * $ROW4 + (blk / 8u) * 11u;
  let q = b + 3u + (j / 2u) * 2u;
  let shift = vec4u((j % 2u) * 4u);
  let high = vec4u(j);
  let lo = (($W[q] >> shift) & vec4u(0x0f0f0f0fu)) |
    ((($W[b + 1u] >> high) & vec4u(0x01010101u)) << vec4u(4u));
  let hi = (($W[q + 1u] >> shift) & vec4u(0x0f0f0f0fu)) |
    ((($W[b + 2u] >> high) & vec4u(0x01010101u)) << vec4u(4u));
  return $F_block(head, blk, lo, hi);
}

fn $F(row: u32, blk: u32) -> Q8Block {
  return $F_cached(row, blk, $F_scales(row, blk));
}
