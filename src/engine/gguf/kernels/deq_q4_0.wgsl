// Q4_0 packed row: $NB blocks of 16 bytes of nibbles (value j low, value j + 16 high), then the
// f16 scales two per word. Values are (nibble - 8) * d.
fn $F_scale(row: u32, g: u32) -> vec2<T> {
  let blk = g >> 2u;
  return vec2<T>(T(unpack2x16float($W[row * $ROW + $NB * 4u + (blk >> 1u)])[blk & 1u]), T(0.0));
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let sub = g & 3u;
  let q = row * $ROW + (g >> 2u) * 4u + (sub & 1u) * 2u;
  let sh = BYTE_SHIFTS + (sub >> 1u) * 4u;
  let lo = vec4f((vec4u($W[q]) >> sh) & vec4u(15u)) - 8.0;
  let hi = vec4f((vec4u($W[q + 1u]) >> sh) & vec4u(15u)) - 8.0;
  return array<vec4<T>, 2>(s.x * vec4<T>(lo), s.x * vec4<T>(hi));
}
