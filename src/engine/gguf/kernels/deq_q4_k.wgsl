// Q4_K blocks (36 words): f16 d and dmin, 12 bytes of 6-bit scales and mins for eight
// sub-blocks of 32 (read by deq_k_scales.wgsl), 128 bytes of nibbles (each 64 values: 32 low
// nibbles, then 32 high). A sub-block's scale pair is (d * scale, dmin * min).
fn $F_scale(row: u32, g: u32) -> vec2<T> {
  return $F_pair(row * $ROW + (g >> 5u) * 36u, g);
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let b = row * $ROW + (g >> 5u) * 36u;
  let gi = g & 31u;
  let q = b + 4u + (gi >> 3u) * 8u + (gi & 3u) * 2u;
  let sh = BYTE_SHIFTS + ((gi >> 2u) & 1u) * 4u;
  let lo = vec4<T>((vec4u($W[q]) >> sh) & vec4u(15u));
  let hi = vec4<T>((vec4u($W[q + 1u]) >> sh) & vec4u(15u));
  return array<vec4<T>, 2>(s.x * lo - s.y, s.x * hi - s.y);
}
