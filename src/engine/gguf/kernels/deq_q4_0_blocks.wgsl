// Block `blk` of a Q4_0 packed row (deq_q4_0.wgsl) as int8 values, for products with 8-bit inputs:
// value e is nibble - 8, built four values a word at a time (nibble ^ 8 is the value where the
// nibble is at least 8, else the value + 16, whose int8 bits are it | 0xf0). Weights bound as
// words ($W). `$F_scales` reads the vector of words holding eight blocks' f16 scales once for them,
// `$F_cached` a block with its scale taken from it, as deq_q8_0_blocks.wgsl does.

// Four words of nibbles (one value a byte) as int8 values.
fn $F_values(nibbles: vec4u) -> vec4u {
  let t = nibbles ^ vec4u(0x08080808u);
  return t | (((t >> vec4u(3u)) & vec4u(0x01010101u)) * 0xf0u);
}

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
