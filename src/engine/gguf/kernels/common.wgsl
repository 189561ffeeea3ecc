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
