// Block `blk` (32 values) of a Q3_K packed row as int8 values, for products with Q8_K inputs:
// weights bound as words ($W), laid out as deq_q3_k.wgsl reads them (block bodies of 27 words: 8
// of high bits, 16 of 2-bit quants, 3 of scales; then the f16 d two per word). Block j of a block
// of 256 is half j / 4's 32 quant bytes shifted by 2 * (j % 4), with bit 4 * (j / 4) + j % 4 of
// the high-bit bytes clear meaning -4; its halves have the 6-bit scales (less 32) 2 * j' and
// 2 * j' + 1 of the 16 (j' = half * 4 + j % 4). `$F_scales` reads the scale words and d of the
// block of 256 holding blocks blk .. blk + 7 once for them, `$F_cached` a block with its scales
// taken from them.

// Eight words from `at` as two vectors.
fn $F_words(at: u32) -> array<vec4u, 2> {
  return array<vec4u, 2>(
    vec4u($W[at], $W[at + 1u], $W[at + 2u], $W[at + 3u]),
    vec4u($W[at + 4u], $W[at + 5u], $W[at + 6u], $W[at + 7u]),
  );
}

// The three words of scales, then the word holding d.
fn $F_scales(row: u32, blk: u32) -> vec4u {
  let sb = blk / 8u;
  let s = row * $ROW + sb * 27u + 24u;
  return vec4u($W[s], $W[s + 1u], $W[s + 2u], $W[row * $ROW + $NB * 27u + sb / 2u]);
}

// 6-bit scale i of a block of 256 (deq_q3_k.wgsl), less 32.
fn $F_scale(scales: vec4u, i: u32) -> i32 {
  let low = (scales[(i % 8u) / 4u] >> ((i % 4u) * 8u + (i / 8u) * 4u)) & 15u;
  let high = (scales.z >> ((i % 4u) * 8u + (i / 4u) * 2u)) & 3u;
  return i32(low | (high << 4u)) - 32;
}

fn $F_cached(row: u32, blk: u32, scales: vec4u) -> Q8Block {
  let sb = blk / 8u;
  let j = blk % 8u;
  let half = j / 4u;
  let b = row * $ROW + sb * 27u;
  let qs = $F_words(b + 8u + half * 8u);
  let hm = $F_words(b);
  let shift = vec4u((j % 4u) * 2u);
  let high = vec4u(half * 4u + j % 4u);
  let lo = ((qs[0] >> shift) & vec4u(0x03030303u)) |
    (((hm[0] >> high) & vec4u(0x01010101u)) << vec4u(2u));
  let hi = ((qs[1] >> shift) & vec4u(0x03030303u)) |
    (((hm[1] >> high) & vec4u(0x01010101u)) << vec4u(2u));
  let si = half * 8u + (j % 4u) * 2u;
  let d = unpack2x16float(scales.w)[sb % 2u];
  return Q8Block(
    bytes_less(lo, 4u),
    bytes_less(hi, 4u),
    d,
    0.0,
    vec2i($F_scale(scales, si), $F_scale(scales, si + 1u)),
  );
}

fn $F(row: u32, blk: u32) -> Q8Block {
  return $F_cached(row, blk, $F_scales(row, blk));
}
