// Q5_K blocks (44 words): f16 d and dmin, 12 bytes of 6-bit scales and mins, 32 bytes of high
// bits (bit j of byte l belongs to sub-block j), 128 bytes of nibbles laid out as in Q4_K. A
// sub-block's scale pair is (d * scale, dmin * min).
fn $F_scale(row: u32, g: u32) -> vec2<T> {
  return $F_pair(row * $ROW + (g >> 5u) * 44u, g);
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let b = row * $ROW + (g >> 5u) * 44u;
  let gi = g & 31u;
  let sub = gi >> 2u;
  let q = b + 12u + (gi >> 3u) * 8u + (gi & 3u) * 2u;
  let h = b + 4u + (gi & 3u) * 2u;
  let sh = BYTE_SHIFTS + (sub & 1u) * 4u;
  let hsh = BYTE_SHIFTS + sub;
  let lo = ((vec4u($W[q]) >> sh) & vec4u(15u)) | (((vec4u($W[h]) >> hsh) & vec4u(1u)) << vec4u(4u));
  let hi = ((vec4u($W[q + 1u]) >> sh) & vec4u(15u)) |
    (((vec4u($W[h + 1u]) >> hsh) & vec4u(1u)) << vec4u(4u));
  return array<vec4<T>, 2>(s.x * vec4<T>(lo) - s.y, s.x * vec4<T>(hi) - s.y);
}
