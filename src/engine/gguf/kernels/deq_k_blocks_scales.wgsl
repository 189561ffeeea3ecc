// Q4_K and Q5_K blocks of 256 begin with one vector of four words (`head`): f16 d and dmin, then
// 12 bytes packing eight 6-bit scales and eight 6-bit mins (ggml's get_scale_min_k4).
fn $F_byte(head: vec4u, k: u32) -> u32 {
  return (head[1u + k / 4u] >> ((k % 4u) * 8u)) & 255u;
}

// Sub-block j's (scale, min).
fn $F_scale_min(head: vec4u, j: u32) -> vec2i {
  if (j < 4u) {
    return vec2i(vec2u($F_byte(head, j) & 63u, $F_byte(head, j + 4u) & 63u));
  }
  let high = $F_byte(head, j + 4u);
  return vec2i(vec2u(
    (high & 15u) | (($F_byte(head, j - 4u) >> 6u) << 4u),
    (high >> 4u) | (($F_byte(head, j) >> 6u) << 4u),
  ));
}

// Block `blk` (32 values) as a Q8Block from its int8 quants: the block of 256's d with the
// sub-block's scale as the integer scale of both halves, and dmin * min as the offset's scale.
fn $F_block(head: vec4u, blk: u32, lo: vec4u, hi: vec4u) -> Q8Block {
  let sm = $F_scale_min(head, blk % 8u);
  let dm = unpack2x16float(head.x);
  return Q8Block(lo, hi, dm.x, dm.y * f32(sm.y), vec2i(sm.x));
}
