// Q5_1 blocks (6 words): f16 d and m, u32 of high bits (bit e for value e), 16 bytes of nibbles
// laid out as in Q4_1. Values are (nibble | high bit << 4) * d + m; the scale pair is (d, -m).
fn $F_scale(row: u32, g: u32) -> vec2<T> {
  let dm = unpack2x16float($W[row * $ROW + (g >> 2u) * 6u]);
  return vec2<T>(T(dm.x), -T(dm.y));
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let b = row * $ROW + (g >> 2u) * 6u;
  let sub = g & 3u;
  let qh = vec4u($W[b + 1u]);
  let q = b + 2u + (sub & 1u) * 2u;
  let sh = BYTE_SHIFTS + (sub >> 1u) * 4u;
  let e = vec4u(0u, 1u, 2u, 3u) + sub * 8u;
  let lo = ((vec4u($W[q]) >> sh) & vec4u(15u)) | (((qh >> e) & vec4u(1u)) << vec4u(4u));
  let hi = ((vec4u($W[q + 1u]) >> sh) & vec4u(15u)) | (((qh >> (e + 4u)) & vec4u(1u)) << vec4u(4u));
  return array<vec4<T>, 2>(s.x * vec4<T>(lo) - s.y, s.x * vec4<T>(hi) - s.y);
}
