// Q4_0 blocks (deq_q4_0.wgsl) as int8 values, for products with 8-bit inputs (read by
// deq_nibble_blocks.wgsl): value e is nibble - 8, built four values a word at a time (nibble ^ 8
// is the value where the nibble is at least 8, else the value + 16, whose int8 bits are it | 0xf0).

// Four words of nibbles (one value a byte) as int8 values.
fn $F_values(nibbles: vec4u) -> vec4u {
  let t = nibbles ^ vec4u(0x08080808u);
  return t | (((t >> vec4u(3u)) & vec4u(0x01010101u)) * 0xf0u);
}
