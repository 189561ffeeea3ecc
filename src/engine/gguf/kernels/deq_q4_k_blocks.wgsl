// Block `blk` (32 values) of a Q4_K row as int8 values, for products with Q8_K inputs: weights
// bound as vectors of four words ($W), a block of 256 nine vectors (deq_q4_k.wgsl: the head vector,
// then 128 bytes of nibbles, sub-blocks 2k and 2k + 1 the low and high nibbles of vectors 1 + 2k
// and 2 + 2k). `$F_scales` reads the head vector of the block of 256 holding blocks blk .. blk + 7
// once for them, `$F_cached` a block with its scales taken from it.
fn $F_scales(row: u32, blk: u32) -> vec4u {
  return $W[row * $ROW4 + (blk / 8u) * 9u];
}

fn $F_cached(row: u32, blk: u32, head: vec4u) -> Q8Block {
  let j = blk % 8u;
  let q = row * $ROW4 + (blk / 8u) * 9u + 1u + (j / 2u) * 2u;
  let shift = vec4u((j % 2u) * 4u);
  let lo = ($W[q] >> shift) & vec4u(0x0f0f0f0fu);
  let hi = ($W[q + 1u] >> shift) & vec4u(0x0f0f0f0fu);
  return $F_block(head, blk, lo, hi);
}

fn $F(row: u32, blk: u32) -> Q8Block {
  return $F_cached(row, blk, $F_scales(row, blk));
}
