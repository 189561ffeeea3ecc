// Q4_1 blocks (5 words): f16 d and m, then 16 bytes of nibbles (value j low, value j + 16 high).
// Values are nibble * d + m; the scale pair is (d, -m).
fn $F_scale(row: u32, g: u32) -> vec2<T> {
  let dm = unpack2x16float($W[row * $ROW + (g >> 2u) * 5u]);
  return vec2<T>(T(dm.x), -T(dm.y));
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let sub = g & 3u;
  let q = row * $ROW + (g >> 2u) * 5u + 1u + (sub & 1u) * 2u;
  let sh = BYTE_SHIFTS + (sub >> 1u) * 4u;
  let lo = vec4<T>((vec4u($W[q]) >> sh) & vec4u(15u));
  let hi = vec4<T>((vec4u($W[q + 1u]) >> sh) & vec4u(15u));
  return array<vec4<T>, 2>(s.x * lo - s.y, s.x * hi - s.y);
}
