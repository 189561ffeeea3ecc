// Q2_K blocks (21 words): 16 bytes of scales (low nibble) and mins (high nibble) for sixteen
// sub-blocks of 16, 64 bytes of 2-bit quants, then f16 d and dmin. Each half of 128 values reads
// 32 quant bytes four times, shifting by 0, 2, 4, 6; bytes 0-15 and 16-31 are separate sub-blocks.
fn $F(row: u32, g: u32) -> array<vec4<T>, 2> {
  let b = row * $ROW + (g >> 5u) * 21u;
  let gi = g & 31u;
  let hv = gi >> 4u;
  let j = (gi >> 2u) & 3u;
  let s = (gi >> 1u) & 1u;
  let si = hv * 8u + 2u * j + s;
  let sc = ($W[b + (si >> 2u)] >> ((si & 3u) * 8u)) & 255u;
  let dm = unpack2x16float($W[b + 20u]);
  let d = T(dm.x * f32(sc & 15u));
  let m = T(dm.y * f32(sc >> 4u));
  let q = b + 4u + hv * 8u + s * 4u + (gi & 1u) * 2u;
  let sh = BYTE_SHIFTS + 2u * j;
  let lo = vec4<T>((vec4u($W[q]) >> sh) & vec4u(3u));
  let hi = vec4<T>((vec4u($W[q + 1u]) >> sh) & vec4u(3u));
  return array<vec4<T>, 2>(d * lo - m, d * hi - m);
}
