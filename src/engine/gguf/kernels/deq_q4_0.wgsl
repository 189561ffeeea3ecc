// Q4_0 packed row: $NB blocks of 16 bytes of nibbles (value j low, value j + 16 high), then the
// f16 scales two per word. Values are (nibble - 8) * d.
fn $F(row: u32, g: u32) -> array<vec4<T>, 2> {
  let base = row * $ROW;
  let blk = g >> 2u;
  let sub = g & 3u;
  let d = T(unpack2x16float($W[base + $NB * 4u + (blk >> 1u)])[blk & 1u]);
  let q = base + blk * 4u + (sub & 1u) * 2u;
  let sh = BYTE_SHIFTS + (sub >> 1u) * 4u;
  let lo = vec4f((vec4u($W[q]) >> sh) & vec4u(15u)) - 8.0;
  let hi = vec4f((vec4u($W[q + 1u]) >> sh) & vec4u(15u)) - 8.0;
  return array<vec4<T>, 2>(d * vec4<T>(lo), d * vec4<T>(hi));
}
