// Block `blk` of a Q8_0 packed row as it is stored, for products with 8-bit inputs: the weights
// bound as vectors of four words ($W), a row $ROW4 vectors (rows padded to 16 bytes, repack.ts):
// $NB blocks of 32 int8 (two vectors each), then the f16 scales two per word, eight per vector;
// with $GROUP > 1 rows interleaved per group of $GROUP (repack.ts `interleaveRowGroups`: a
// block's two vectors row by row, then each vector of scales row by row).
// A loop over a row's blocks can read each vector of scales once for its eight blocks
// (`$F_scales`, then `$F_cached`), where `$F` reads it for the one block.
fn $F_scales(row: u32, blk: u32) -> vec4u {
  let base = (row / $GROUPu) * $GROUPu * $ROW4;
  return $W[base + ($NB * 2u + blk / 8u) * $GROUPu + row % $GROUPu];
}

fn $F_cached(row: u32, blk: u32, scales: vec4u) -> Q8Block {
  let q = (row / $GROUPu) * $GROUPu * $ROW4 + (blk * $GROUPu + row % $GROUPu) * 2u;
  let d = unpack2x16float(scales[(blk / 2u) % 4u])[blk % 2u];
  return Q8Block($W[q], $W[q + 1u], d, 0.0, vec2i(1));
}

fn $F(row: u32, blk: u32) -> Q8Block {
  return $F_cached(row, blk, $F_scales(row, blk));
}
