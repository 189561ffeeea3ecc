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

// A block of 32 int8 values packed in eight words (values 0-15 in lo, 16-31 in hi) and its scales:
// a block of weights as int8 values (deq_*_blocks.wgsl) or of an input quantized as llama.cpp
// quantizes it (quantize-block.wgsl, quantize-input.wgsl). A value is d * s.x * q (lo) or
// d * s.y * q (hi), s being a K-quant's integer sub-block scales (1 elsewhere), less the block's
// offset: for weights m is the scale of their offset (dmin * min of Q4_K and Q5_K, 0 elsewhere),
// for Q8_K inputs d times the sum of the block's quants (0 for Q8_0 inputs), so that a weight
// block's offset times the input block's values is w.m * x.m.
struct Q8Block { lo: vec4u, hi: vec4u, d: f32, m: f32, s: vec2i }

// A weight block times an input block as llama.cpp's CPU backend multiplies such blocks: the
// exact integer dot product (each half times its integer scale), scaled once, less the offset's.
fn dot_q8(w: Q8Block, x: Q8Block) -> f32 {
  let lo = dot4I8Packed(w.lo.x, x.lo.x) + dot4I8Packed(w.lo.y, x.lo.y) +
    dot4I8Packed(w.lo.z, x.lo.z) + dot4I8Packed(w.lo.w, x.lo.w);
  let hi = dot4I8Packed(w.hi.x, x.hi.x) + dot4I8Packed(w.hi.y, x.hi.y) +
    dot4I8Packed(w.hi.z, x.hi.z) + dot4I8Packed(w.hi.w, x.hi.w);
  return f32(lo * w.s.x + hi * w.s.y) * (w.d * x.d) - w.m * x.m;
}
