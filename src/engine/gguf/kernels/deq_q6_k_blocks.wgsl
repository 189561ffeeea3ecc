// Block `blk` (32 values) of a Q6_K packed row as int8 values, for products with Q8_K inputs:
// weights bound as vectors of four words ($W), laid out as deq_q6_k.wgsl reads them (block bodies
// of 13 vectors: 8 of low bits, 4 of 2-bit highs, 1 of int8 scales; then the f16 d two per word,
// rows padded to whole vectors). Block j of a block of 256 is quarter j % 4 of half j / 4: the low
// (j % 4 < 2) or high nibbles of two vectors of low bits with bits 2 * (j % 4) of two vectors of
// high bits, each value less 32; its halves have the int8 scales 2 * j' and 2 * j' + 1 of the 16
// (j' = half * 4 + quarter). `$F_scales` reads the 16 scales of the block of 256 holding blocks
// blk .. blk + 7 once for them, `$F_cached` a block with its scales taken from them.
fn $F_scales(row: u32, blk: u32) -> vec4u {
  return $W[row * $ROW4 + (blk / 8u) * 13u + 12u];
}

fn $F_cached(row: u32, blk: u32, scales: vec4u) -> Q8Block {
  let sb = blk / 8u;
  let j = blk % 8u;
  let half = j / 4u;
  let quarter = j % 4u;
  let b = row * $ROW4 + sb * 13u;
  let ql = b + half * 4u + (quarter % 2u) * 2u;
  let qh = b + 8u + half * 2u;
  let shift = vec4u((quarter / 2u) * 4u);
  let high = vec4u(quarter * 2u);
  let lo = (($W[ql] >> shift) & vec4u(0x0f0f0f0fu)) |
    ((($W[qh] >> high) & vec4u(0x03030303u)) << vec4u(4u));
  let hi = (($W[ql + 1u] >> shift) & vec4u(0x0f0f0f0fu)) |
    ((($W[qh + 1u] >> high) & vec4u(0x03030303u)) << vec4u(4u));
  let si = half * 8u + quarter * 2u;
  let word = bitcast<i32>(scales[si / 4u]);
  let s = vec2i(extractBits(word, (si % 4u) * 8u, 8u), extractBits(word, (si % 4u) * 8u + 8u, 8u));
  let d = unpack2x16float($W[row * $ROW4 + $NB * 13u + sb / 8u][(sb / 2u) % 4u])[sb % 2u];
  return Q8Block(bytes_less(lo, 32u), bytes_less(hi, 32u), d, 0.0, s);
}

fn $F(row: u32, blk: u32) -> Q8Block {
  return $F_cached(row, blk, $F_scales(row, blk));
}
