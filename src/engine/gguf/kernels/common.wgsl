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

// A block of 32 int8 values packed in eight words and its scale: a block of Q8_0, Q5_0 or Q4_0
// weights as int8 values (deq_*_blocks.wgsl) or of an input quantized as llama.cpp quantizes it
// (quantize-block.wgsl).
struct Q8Block { lo: vec4u, hi: vec4u, d: f32 }

// A weight block times an input block as llama.cpp's CPU backend multiplies such blocks: the
// exact integer dot product, scaled once.
fn dot_q8(w: Q8Block, x: Q8Block) -> f32 {
  let lo = dot4I8Packed(w.lo.x, x.lo.x) + dot4I8Packed(w.lo.y, x.lo.y) +
    dot4I8Packed(w.lo.z, x.lo.z) + dot4I8Packed(w.lo.w, x.lo.w);
  let hi = dot4I8Packed(w.hi.x, x.hi.x) + dot4I8Packed(w.hi.y, x.hi.y) +
    dot4I8Packed(w.hi.z, x.hi.z) + dot4I8Packed(w.hi.w, x.hi.w);
  return f32(lo + hi) * (w.d * x.d);
}
