// Block `blk` (32 values) of an IQ4_XS row (deq_iq4_xs.wgsl) as int8 values, for products with
// Q8_K inputs: each nibble looked up in kvalues_iq4nl (`iq4_bytes`), the block's 6-bit scale less
// 32 as the integer scale of both halves, the block of 256's f16 d as its scale. Weights bound as
// words ($W). `$F_scales` reads the two head words of the block of 256 holding blocks
// blk .. blk + 7 (d and the high scale bits, the low scale nibbles) once for them, `$F_cached` a
// block with its scale taken from them.
fn $F_scales(row: u32, blk: u32) -> vec4u {
  let b = row * $ROW + (blk / 8u) * 34u;
  return vec4u($W[b], $W[b + 1u], 0u, 0u);
}

fn $F_cached(row: u32, blk: u32, head: vec4u) -> Q8Block {
  let ib = blk % 8u;
  let b = row * $ROW + (blk / 8u) * 34u + 2u + ib * 4u;
  let q = vec4u($W[b], $W[b + 1u], $W[b + 2u], $W[b + 3u]);
  let low = (head.y >> ((ib >> 1u) * 8u + (ib & 1u) * 4u)) & 15u;
  let high = (head.x >> (16u + 2u * ib)) & 3u;
  let scale = i32(low | (high << 4u)) - 32;
  let d = unpack2x16float(head.x).x;
  return Q8Block(iq4_bytes(q), iq4_bytes(q >> vec4u(4u)), d, 0.0, vec2i(scale));
}

fn $F(row: u32, blk: u32) -> Q8Block {
  return $F_cached(row, blk, $F_scales(row, blk));
}
