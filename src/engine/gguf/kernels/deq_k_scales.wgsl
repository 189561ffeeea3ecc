// Q4_K and Q5_K share the 12-byte packing of eight 6-bit scales and eight 6-bit mins that
// follows d and dmin (word 0 of the block).
fn $F_byte(b: u32, k: u32) -> u32 {
  return ($W[b + 1u + (k >> 2u)] >> ((k & 3u) * 8u)) & 255u;
}

// The scale pair (d * scale, dmin * min) of the sub-block of 32 holding group g of the block at
// word b.
fn $F_pair(b: u32, g: u32) -> vec2<T> {
  let dm = unpack2x16float($W[b]);
  let sm = $F_scale_min(b, (g & 31u) >> 2u);
  return vec2<T>(T(dm.x * sm.x), T(dm.y * sm.y));
}

fn $F_scale_min(b: u32, j: u32) -> vec2f {
  if (j < 4u) {
    return vec2f(f32($F_byte(b, j) & 63u), f32($F_byte(b, j + 4u) & 63u));
  }
  let sc = ($F_byte(b, j + 4u) & 15u) | (($F_byte(b, j - 4u) >> 6u) << 4u);
  let m = ($F_byte(b, j + 4u) >> 4u) | (($F_byte(b, j) >> 6u) << 4u);
  return vec2f(f32(sc), f32(m));
}
