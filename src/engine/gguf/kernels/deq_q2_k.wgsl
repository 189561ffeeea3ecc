// Q2_K blocks (21 words): 16 bytes of scales (low nibble) and mins (high nibble) for sixteen
// sub-blocks of 16, 64 bytes of 2-bit quants, then f16 d and dmin. Each half of 128 values reads
// 32 quant bytes four times, shifting by 0, 2, 4, 6; bytes 0-15 and 16-31 are separate sub-blocks.
// A sub-block (two groups) has the scale pair (d * scale, dmin * min).
fn $F_scale(row: u32, g: u32) -> vec2<T> {
  let b = row * $ROW + (g >> 5u) * 21u;
  let gi = g & 31u;
  let si = (gi >> 4u) * 8u + 2u * ((gi >> 2u) & 3u) + ((gi >> 1u) & 1u);
  let sc = ($W[b + (si >> 2u)] >> ((si & 3u) * 8u)) & 255u;
  let dm = unpack2x16float($W[b + 20u]);
  return vec2<T>(T(dm.x * f32(sc & 15u)), T(dm.y * f32(sc >> 4u)));
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let b = row * $ROW + (g >> 5u) * 21u;
  let gi = g & 31u;
  let hv = gi >> 4u;
  let j = (gi >> 2u) & 3u;
  let q = b + 4u + hv * 8u + ((gi >> 1u) & 1u) * 4u + (gi & 1u) * 2u;
  let sh = BYTE_SHIFTS + 2u * j;
  let lo = vec4<T>((vec4u($W[q]) >> sh) & vec4u(3u));
  let hi = vec4<T>((vec4u($W[q + 1u]) >> sh) & vec4u(3u));
  return array<vec4<T>, 2>(s.x * lo - s.y, s.x * hi - s.y);
}
