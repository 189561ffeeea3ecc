// Q8_0 packed row: $NB blocks of 32 int8 (8 words each), then the f16 scales two per word, padded
// to whole vectors of four words; with $GROUP > 1 rows interleaved per group of $GROUP
// (repack.ts `interleaveRowGroups`: a block's 8 words row by row, then each vector of scales).
fn $F_scale(row: u32, g: u32) -> vec2<T> {
  let base = (row / $GROUPu) * $GROUPu * $ROW;
  let blk = g >> 2u;
  let scales = ($NB * 2u * $GROUPu + (blk >> 3u) * $GROUPu + row % $GROUPu) * 4u;
  return vec2<T>(T(unpack2x16float($W[base + scales + ((blk & 7u) >> 1u)])[blk & 1u]), T(0.0));
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let base = (row / $GROUPu) * $GROUPu * $ROW;
  let q = base + ((g >> 2u) * $GROUPu + row % $GROUPu) * 8u + (g & 3u) * 2u;
  return array<vec4<T>, 2>(s.x * vec4<T>(sx8($W[q])), s.x * vec4<T>(sx8($W[q + 1u])));
}
