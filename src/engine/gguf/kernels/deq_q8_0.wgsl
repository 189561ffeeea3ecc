// Q8_0 packed row: $NB blocks of 32 int8 (8 words each), then the f16 scales two per word, padded
// to whole vectors of four words; with $GROUP > 1 rows interleaved per group of $GROUP
// (repack.ts `interleaveRowGroups`: a block's 8 words row by row, then each vector of scales).
fn $F(row: u32, g: u32) -> array<vec4<T>, 2> {
  let base = (row / $GROUPu) * $GROUPu * $ROW;
  let i = row % $GROUPu;
  let blk = g >> 2u;
  let scales = ($NB * 2u * $GROUPu + (blk >> 3u) * $GROUPu + i) * 4u;
  let d = T(unpack2x16float($W[base + scales + ((blk & 7u) >> 1u)])[blk & 1u]);
  let q = base + (blk * $GROUPu + i) * 8u + (g & 3u) * 2u;
  return array<vec4<T>, 2>(d * vec4<T>(sx8($W[q])), d * vec4<T>(sx8($W[q + 1u])));
}
