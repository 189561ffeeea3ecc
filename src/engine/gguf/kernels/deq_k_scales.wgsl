// Q4_K and Q5_K share the 12-byte packing of eight 6-bit scales and eight 6-bit mins that
// follows d and dmin (word 0 of the block).
fn $F_byte(b: u32, k: u32) -> u32 {
  return ($W[b + 1u + (k >> 2u)] >> ((k & 3u) * 8u)) & 255u;
}

fn $F_scale_min(b: u32, j: u32) -> vec2f {
  if (j < 4u) {
    return vec2f(f32($F_byte(b, j) & 63u), f32($F_byte(b, j + 4u) & 63u));
  }
  let sc = ($F_byte(b, j + 4u) & 15u) | (($F_byte(b, j - 4u) >> 6u) << 4u);
  let m = ($F_byte(b, j + 4u) >> 4u) | (($F_byte(b, j) >> 6u) << 4u);
  return vec2f(f32(sc), f32(m));
}
