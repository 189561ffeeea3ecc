// Q3_K packed row: $NB block bodies of 27 words (32 bytes of high bits, 64 bytes of 2-bit quants,
// 12 bytes of sixteen 6-bit scales), then the f16 scales two per word. The quants are laid out as
// in Q2_K; high bit 4 * half + j of byte l of the mask set means no -4. Scale i has its low four
// bits in nibble i / 8 of byte i % 8 and its high two bits at 2 * (i / 4) of byte 8 + i % 4.
fn $F(row: u32, g: u32) -> array<vec4<T>, 2> {
  let base = row * $ROW;
  let blk = g >> 5u;
  let b = base + blk * 27u;
  let gi = g & 31u;
  let hv = gi >> 4u;
  let j = (gi >> 2u) & 3u;
  let s = (gi >> 1u) & 1u;
  let si = hv * 8u + 2u * j + s;
  let low = ($W[b + 24u + ((si & 7u) >> 2u)] >> ((si & 3u) * 8u + (si >> 3u) * 4u)) & 15u;
  let high = ($W[b + 26u] >> ((si & 3u) * 8u + (si >> 2u) * 2u)) & 3u;
  let d = unpack2x16float($W[base + $NB * 27u + (blk >> 1u)])[blk & 1u];
  let dl = T(d * (f32(low | (high << 4u)) - 32.0));
  let l = s * 4u + (gi & 1u) * 2u;
  let q = b + 8u + hv * 8u + l;
  let sh = BYTE_SHIFTS + 2u * j;
  let hm = b + l;
  let hsh = BYTE_SHIFTS + hv * 4u + j;
  let lo = vec4i((vec4u($W[q]) >> sh) & vec4u(3u)) -
    vec4i((~(vec4u($W[hm]) >> hsh) & vec4u(1u)) * 4u);
  let hi = vec4i((vec4u($W[q + 1u]) >> sh) & vec4u(3u)) -
    vec4i((~(vec4u($W[hm + 1u]) >> hsh) & vec4u(1u)) * 4u);
  return array<vec4<T>, 2>(dl * vec4<T>(lo), dl * vec4<T>(hi));
}
