// Block `blk` of an IQ4_NL packed row (deq_iq4_nl.wgsl) as int8 values, for products with Q8_0
// inputs: each nibble (value j low, value j + 16 high) looked up in kvalues_iq4nl (`iq4_bytes`).
// Weights bound as words ($W). `$F_scales` reads the words holding eight blocks' f16 scales once
// for them, `$F_cached` a block with its scale taken from them, as deq_q4_0_blocks.wgsl does.
fn $F_scales(row: u32, blk: u32) -> vec4u {
  let s = row * $ROW + $NB * 4u + (blk / 8u) * 4u;
  return vec4u($W[s], $W[s + 1u], $W[s + 2u], $W[s + 3u]);
}

fn $F_cached(row: u32, blk: u32, scales: vec4u) -> Q8Block {
  let b = row * $ROW + blk * 4u;
  let q = vec4u($W[b], $W[b + 1u], $W[b + 2u], $W[b + 3u]);
  let d = unpack2x16float(scales[(blk / 2u) % 4u])[blk % 2u];
  return Q8Block(iq4_bytes(q), iq4_bytes(q >> vec4u(4u)), d, 0.0, vec2i(1));
}

fn $F(row: u32, blk: u32) -> Q8Block {
  return $F_cached(row, blk, $F_scales(row, blk));
}
