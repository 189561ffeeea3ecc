// Q8_0 packed row: $NB blocks of 32 int8 (8 words each), then the f16 scales two per word.
fn $F(row: u32, g: u32) -> array<vec4<T>, 2> {
  let base = row * $ROW;
  let blk = g >> 2u;
  let d = T(unpack2x16float($W[base + $NB * 8u + (blk >> 1u)])[blk & 1u]);
  let q = base + blk * 8u + (g & 3u) * 2u;
  return array<vec4<T>, 2>(d * vec4<T>(sx8($W[q])), d * vec4<T>(sx8($W[q + 1u])));
}
