// Block `blk` of a Q5_0 packed row (deq_q5_0.wgsl) as int8 values, for products with 8-bit inputs:
// value e is (nibble | bit e of qh << 4) - 16, whose int8 bits are the nibble where that bit is
// set and the nibble | 0xf0 where it is clear, built four values a word at a time. Weights bound
// as words ($W). `$F_scales` reads the vector of words holding eight blocks' f16 scales once for
// them, `$F_cached` a block with its scale taken from it, as deq_q8_0_blocks.wgsl does.

// Four words of nibbles (one value a byte) with their 16 high bits, as int8 values.
fn $F_values(nibbles: vec4u, high: u32) -> vec4u {
  let bits = (vec4u(high) >> vec4u(0u, 4u, 8u, 12u)) & vec4u(15u);
  // Bit i of `bits` to the low bit of byte i (the four shifted copies never overlap).
  let high_set = (bits * 0x204081u) & vec4u(0x01010101u);
  return nibbles | ((high_set ^ vec4u(0x01010101u)) * 0xf0u);
}

fn $F_scales(row: u32, blk: u32) -> vec4u {
  let s = row * $ROW + $NB * 5u + (blk / 8u) * 4u;
  return vec4u($W[s], $W[s + 1u], $W[s + 2u], $W[s + 3u]);
}

fn $F_cached(row: u32, blk: u32, scales: vec4u) -> Q8Block {
  let b = row * $ROW + blk * 5u;
  let qh = $W[b];
  let q = vec4u($W[b + 1u], $W[b + 2u], $W[b + 3u], $W[b + 4u]);
  let d = unpack2x16float(scales[(blk / 2u) % 4u])[blk % 2u];
  return Q8Block(
    $F_values(q & vec4u(0x0f0f0f0fu), qh),
    $F_values((q >> vec4u(4u)) & vec4u(0x0f0f0f0fu), qh >> 16u),
    d,
    0.0,
    vec2i(1),
  );
}

fn $F(row: u32, blk: u32) -> Q8Block {
  return $F_cached(row, blk, $F_scales(row, blk));
}
