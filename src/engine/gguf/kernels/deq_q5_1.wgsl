// Q5_1 blocks (6 words): f16 d and m, u32 of high bits (bit e for value e), 16 bytes of nibbles
// laid out as in Q4_1. Values are (nibble | high bit << 4) * d + m.
fn $F(row: u32, g: u32) -> array<vec4<T>, 2> {
  let b = row * $ROW + (g >> 2u) * 6u;
  let sub = g & 3u;
  let dm = unpack2x16float($W[b]);
  let d = T(dm.x);
  let m = T(dm.y);
  let qh = vec4u($W[b + 1u]);
  let q = b + 2u + (sub & 1u) * 2u;
  let sh = BYTE_SHIFTS + (sub >> 1u) * 4u;
  let e = vec4u(0u, 1u, 2u, 3u) + sub * 8u;
  let lo = ((vec4u($W[q]) >> sh) & vec4u(15u)) | (((qh >> e) & vec4u(1u)) << vec4u(4u));
  let hi = ((vec4u($W[q + 1u]) >> sh) & vec4u(15u)) | (((qh >> (e + 4u)) & vec4u(1u)) << vec4u(4u));
  return array<vec4<T>, 2>(d * vec4<T>(lo) + m, d * vec4<T>(hi) + m);
}
