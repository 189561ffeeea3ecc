// Helpers shared by every dequantizing kernel.
const BYTE_SHIFTS = vec4u(0u, 8u, 16u, 24u);

// Four int8 of a word, sign-extended exactly.
fn sx8(w: u32) -> vec4f {
  let i = bitcast<i32>(w);
  return vec4f(
    f32(extractBits(i, 0u, 8u)),
    f32(extractBits(i, 8u, 8u)),
    f32(extractBits(i, 16u, 8u)),
    f32(extractBits(i, 24u, 8u)),
  );
}

// Four bytes of a word, each a value v < 2 * half (half a power of two up to 64), as the int8
// v - half: v ^ half is v - half where v >= half, else v + half with bit `half` set, which then
// needs every bit above it set to read as v - half.
fn bytes_less(v: vec4u, half: u32) -> vec4u {
  let t = v ^ vec4u(half * 0x01010101u);
  return t | ((t & vec4u(half * 0x01010101u)) * ((256u - 2u * half) / half));
}

// ggml's non-linear 4-bit table kvalues_iq4nl as int8 bytes, four a word.
const IQ4_VALUES = vec4u(0xbfad9881u, 0xf6eaddcfu, 0x26190d01u, 0x71594535u);

// The low nibble of each byte of each word of `v` looked up in IQ4_VALUES, as int8 bytes.
fn iq4_bytes(v: vec4u) -> vec4u {
  let table = IQ4_VALUES;
  var out = vec4u();
  for (var i = 0u; i < 4u; i++) {
    let n = (v >> vec4u(i * 8u)) & vec4u(15u);
    let b = vec4u(table[n.x >> 2u], table[n.y >> 2u], table[n.z >> 2u], table[n.w >> 2u]);
    out |= ((b >> ((n & vec4u(3u)) * 8u)) & vec4u(255u)) << vec4u(i * 8u);
  }
  return out;
}

// A block of 32 int8 values packed in eight words (values 0-15 in lo, 16-31 in hi) and its scales:
// a block of weights as int8 values (deq_*_blocks.wgsl) or of an input quantized as llama.cpp
// quantizes it (quantize-block.wgsl, quantize-input.wgsl). A value is d * s.x * q (lo) or
// d * s.y * q (hi), s being a K-quant's integer sub-block scales (1 elsewhere), less the block's
// offset: for weights m is the scale of their offset (dmin * min of Q4_K and Q5_K, 0 elsewhere),
// for Q8_K inputs d times the sum of the block's quants (0 for Q8_0 inputs), so that a weight
// block's offset times the input block's values is w.m * x.m.
struct Q8Block { lo: vec4u, hi: vec4u, d: f32, m: f32, s: vec2i }
