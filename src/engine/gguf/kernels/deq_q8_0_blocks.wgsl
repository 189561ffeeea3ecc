// Block `blk` of a Q8_0 packed row as it is stored, for products with 8-bit inputs: the weights
// bound as vectors of four words ($W), a row $ROW4 vectors (rows padded to 16 bytes, repack.ts):
// $NB blocks of 32 int8 (two vectors each), then the f16 scales two per word.
fn $F(row: u32, blk: u32) -> Q8Block {
  let base = row * $ROW4;
  let scales = $W[base + $NB * 2u + blk / 8u];
  let d = unpack2x16float(scales[(blk / 2u) % 4u])[blk % 2u];
  return Q8Block($W[base + blk * 2u], $W[base + blk * 2u + 1u], d);
}
