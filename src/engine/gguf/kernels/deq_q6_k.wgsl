// Q6_K packed row: $NB block bodies of 52 words (128 bytes low nibbles, 64 bytes of 2-bit highs,
// 16 int8 scales), then the f16 scales two per word. Each half of 128 values holds four quarters
// of 32: quarter q takes low (q < 2) or high nibbles of ql[32 * (q & 1) + l], bits 2q of qh[l].
// Its 16-value sub-blocks have the scale d * an int8 scale; the scale pair holds those of the two
// sub-blocks of g's 32 values (one word of scales), x for groups 0-1 of the 32 and y for 2-3.
fn $F_scale(row: u32, g: u32) -> vec2<T> {
  let base = row * $ROW;
  let blk = g >> 5u;
  let gi = g & 31u;
  let d = unpack2x16float($W[base + $NB * 52u + (blk >> 1u)])[blk & 1u];
  let si = (gi >> 4u) * 8u + 2u * ((gi >> 2u) & 3u);
  let scales = bitcast<i32>($W[base + blk * 52u + 48u + (si >> 2u)]);
  let sc = vec2f(
    f32(extractBits(scales, (si & 3u) * 8u, 8u)),
    f32(extractBits(scales, (si & 3u) * 8u + 8u, 8u)),
  );
  return vec2<T>(T(d * sc.x), T(d * sc.y));
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let b = row * $ROW + (g >> 5u) * 52u;
  let gi = g & 31u;
  let hv = gi >> 4u;
  let quarter = (gi >> 2u) & 3u;
  let l0 = (gi & 3u) * 8u;
  let ql = b + ((hv * 64u + l0 + (quarter & 1u) * 32u) >> 2u);
  let qh = b + 32u + ((hv * 32u + l0) >> 2u);
  let sh = BYTE_SHIFTS + (quarter >> 1u) * 4u;
  let hsh = BYTE_SHIFTS + quarter * 2u;
  let ds = select(s.x, s.y, (gi & 2u) != 0u);
  let lo = ((vec4u($W[ql]) >> sh) & vec4u(15u)) | (((vec4u($W[qh]) >> hsh) & vec4u(3u)) << vec4u(4u));
  let hi = ((vec4u($W[ql + 1u]) >> sh) & vec4u(15u)) |
    (((vec4u($W[qh + 1u]) >> hsh) & vec4u(3u)) << vec4u(4u));
  return array<vec4<T>, 2>(
    ds * vec4<T>(vec4i(lo) - vec4i(32)),
    ds * vec4<T>(vec4i(hi) - vec4i(32)),
  );
}
