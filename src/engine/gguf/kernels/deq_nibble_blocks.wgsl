// Block `blk` of a packed row of blocks of 16 bytes of nibbles (value j low, value j + 16 high)
// followed by the blocks' f16 scales two per word (Q4_0, IQ4_NL), as int8 values for products
// with 8-bit inputs, the type's `$F_values` (declared before this file) turning four words of
// nibbles (one a byte) into int8 values. Weights bound as words ($W). `$F_scales` reads the
// vector of words holding eight blocks' f16 scales once for them, `$F_cached` a block with its
// scale taken from it, as deq_q8_0_blocks.wgsl does.
fn $F_scales(row: u32, blk: u32) -> vec4u {
  let s = row * $ROW + $NB * 4u + (blk / 8u) * 4u;
  return vec4u($W[s], $W[s + 1u], $W[s + 2u], $W[s + 3u]);
}

fn $F_cached(row: u32, blk: u32, scales: vec4u) -> Q8Block {
  let b = row * $ROW + blk * 4u;
  let q = vec4u($W[b], $W[b + 1u], $W[b + 2u], $W[b + 3u]);
  let d = unpack2x16float(scales[(blk / 2u) % 4u])[blk % 2u];
  return Q8Block(
    $F_values(q & vec4u(0x0f0f0f0fu)),
    $F_values((q >> vec4u(4u)) & vec4u(0x0f0f0f0fu)),
    d,
    0.0,
    vec2i(1),
  );
}

fn $F(row: u32, blk: u32) -> Q8Block {
  return $F_cached(row, blk, $F_scales(row, blk));
}
