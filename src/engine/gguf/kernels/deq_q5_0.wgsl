// Q5_0 packed row: $NB blocks of (u32 high bits, 16 bytes of nibbles), then the f16 scales two
// per word. Value e is ((nibble | bit e of qh << 4) - 16) * d.
fn $F_scale(row: u32, g: u32) -> vec2<T> {
  let blk = g >> 2u;
  return vec2<T>(T(unpack2x16float($W[row * $ROW + $NB * 5u + (blk >> 1u)])[blk & 1u]), T(0.0));
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let b = row * $ROW + (g >> 2u) * 5u;
  let sub = g & 3u;
  let qh = vec4u($W[b]);
  let q = b + 1u + (sub & 1u) * 2u;
  let sh = BYTE_SHIFTS + (sub >> 1u) * 4u;
  let e = vec4u(0u, 1u, 2u, 3u) + sub * 8u;
  let lo = ((vec4u($W[q]) >> sh) & vec4u(15u)) | (((qh >> e) & vec4u(1u)) << vec4u(4u));
  let hi = ((vec4u($W[q + 1u]) >> sh) & vec4u(15u)) | (((qh >> (e + 4u)) & vec4u(1u)) << vec4u(4u));
  return array<vec4<T>, 2>(s.x * vec4<T>(vec4f(lo) - 16.0), s.x * vec4<T>(vec4f(hi) - 16.0));
}
