// Q4_1 blocks (5 words): f16 d and m, then 16 bytes of nibbles (value j low, value j + 16 high).
// Values are nibble * d + m.
fn $F(row: u32, g: u32) -> array<vec4<T>, 2> {
  let b = row * $ROW + (g >> 2u) * 5u;
  let sub = g & 3u;
  let dm = unpack2x16float($W[b]);
  let d = T(dm.x);
  let m = T(dm.y);
  let q = b + 1u + (sub & 1u) * 2u;
  let sh = BYTE_SHIFTS + (sub >> 1u) * 4u;
  let lo = vec4<T>((vec4u($W[q]) >> sh) & vec4u(15u));
  let hi = vec4<T>((vec4u($W[q + 1u]) >> sh) & vec4u(15u));
  return array<vec4<T>, 2>(d * lo + m, d * hi + m);
}
