// IQ4_NL blocks (deq_iq4_nl.wgsl) as int8 values, for products with Q8_0 inputs (read by
// deq_nibble_blocks.wgsl): each nibble looked up in kvalues_iq4nl (`iq4_bytes`).

// Four words of nibbles (one value a byte) as int8 values.
fn $F_values(nibbles: vec4u) -> vec4u {
  return iq4_bytes(nibbles);
}
