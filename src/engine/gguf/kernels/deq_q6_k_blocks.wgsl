// Block `blk` (32 values) of a Q6_K packed row as int8 values, for products with Q8_K inputs:
// weights bound as words ($W), laid out as deq_q6_k.wgsl reads them (block bodies of 52 words,
// then the f16 d two per word). Block j of a block of 256 is quarter j % 4 of half j / 4: the low
// (j % 4 < 2) or high nibbles of 8 words of low bits with bits 2 * (j % 4) of 8 words of high
// bits, each value less 32; its halves have the int8 scales 2 * j' and 2 * j' + 1 of the 16
// (j' = half * 4 + quarter). `$F_scales` reads the 16 scales of the block of 256 holding blocks
// blk .. blk + 7 once for them, `$F_cached` a block with its scales taken from them.

// Eight words from `at` as two vectors.
fn $F_words(at: u32) -> array<vec4u, 2> {
  return array<vec4u, 2>(
    vec4u($W[at], $W[at + 1u], $W[at + 2u], $W[at + 3u]),
    vec4u($W[at + 4u], $W[at + 5u], $W[at + 6u], $W[at + 7u]),
  );
}

fn $F_scales(row: u32, blk: u32) -> vec4u {
  let s = row * $ROW + (blk / 8u) * 52u + 48u;
  return vec4u($W[s], $W[s + 1u], $W[s + 2u], $W[s + 3u]);
}

fn $F_cached(row: u32, blk: u32, scales: vec4u) -> Q8Block {
  let sb = blk / 8u;
  let j = blk % 8u;
  let half = j / 4u;
  let quarter = j % 4u;
  let b = row * $ROW + sb * 52u;
  let ql = $F_words(b + half * 16u + (quarter % 2u) * 8u);
  let qh = $F_words(b + 32u + half * 8u);
  let shift = vec4u((quarter / 2u) * 4u);
  let high = vec4u(quarter * 2u);
  let lo = ((ql[0] >> shift) & vec4u(0x0f0f0f0fu)) | (((qh[0] >> high) & vec4u(0x03030303u)) << vec4u(4u));
  let hi = ((ql[1] >> shift) & vec4u(0x0f0f0f0fu)) | (((qh[1] >> high) & vec4u(0x03030303u)) << vec4u(4u));
  let si = half * 8u + quarter * 2u;
  let word = bitcast<i32>(scales[si / 4u]);
  let s = vec2i(extractBits(word, (si % 4u) * 8u, 8u), extractBits(word, (si % 4u) * 8u + 8u, 8u));
  let d = unpack2x16float($W[row * $ROW + $NB * 52u + sb / 2u])[sb % 2u];
  return Q8Block(bytes_less(lo, 32u), bytes_less(hi, 32u), d, 0.0, s);
}

fn $F(row: u32, blk: u32) -> Q8Block {
  return $F_cached(row, blk, $F_scales(row, blk));
}
