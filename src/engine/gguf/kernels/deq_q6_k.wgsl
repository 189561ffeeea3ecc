// Q6_K packed row: $NB block bodies of 52 words (128 bytes low nibbles, 64 bytes of 2-bit highs,
// 16 int8 scales), then the f16 scales two per word. Each half of 128 values holds four quarters
// of 32: quarter q takes low (q < 2) or high nibbles of ql[32 * (q & 1) + l], bits 2q of qh[l].
fn $F(row: u32, g: u32) -> array<vec4<T>, 2> {
  let base = row * $ROW;
  let blk = g >> 5u;
  let b = base + blk * 52u;
  let gi = g & 31u;
  let hv = gi >> 4u;
  let quarter = (gi >> 2u) & 3u;
  let l0 = (gi & 3u) * 8u;
  let d = unpack2x16float($W[base + $NB * 52u + (blk >> 1u)])[blk & 1u];
  let si = hv * 8u + (l0 >> 4u) + 2u * quarter;
  let sc = f32(extractBits(bitcast<i32>($W[b + 48u + (si >> 2u)]), (si & 3u) * 8u, 8u));
  let ds = T(d * sc);
  let ql = b + ((hv * 64u + l0 + (quarter & 1u) * 32u) >> 2u);
  let qh = b + 32u + ((hv * 32u + l0) >> 2u);
  let sh = BYTE_SHIFTS + (quarter >> 1u) * 4u;
  let hsh = BYTE_SHIFTS + quarter * 2u;
  let lo = ((vec4u($W[ql]) >> sh) & vec4u(15u)) | (((vec4u($W[qh]) >> hsh) & vec4u(3u)) << vec4u(4u));
  let hi = ((vec4u($W[ql + 1u]) >> sh) & vec4u(15u)) |
    (((vec4u($W[qh + 1u]) >> hsh) & vec4u(3u)) << vec4u(4u));
  return array<vec4<T>, 2>(ds * vec4<T>(vec4i(lo) - vec4i(32)), ds * vec4<T>(vec4i(hi) - vec4i(32)));
}
