// Q3_K packed row: $NB block bodies of 27 words (32 bytes of high bits, 64 bytes of 2-bit quants,
// 12 bytes of sixteen 6-bit scales), then the f16 scales two per word. The quants are laid out as
// in Q2_K; high bit 4 * half + j of byte l of the mask set means no -4. Scale i has its low four
// bits in nibble i / 8 of byte i % 8 and its high two bits at 2 * (i / 4) of byte 8 + i % 4. A
// 16-value sub-block has the scale d * (its 6-bit scale - 32); the scale pair holds those of the
// two sub-blocks of g's 32 values (neighbours in the same words), x for groups 0-1 and y for 2-3.
fn $F_scale(row: u32, g: u32) -> vec2<T> {
  let base = row * $ROW;
  let blk = g >> 5u;
  let b = base + blk * 27u;
  let gi = g & 31u;
  let si = (gi >> 4u) * 8u + 2u * ((gi >> 2u) & 3u);
  let lows = $W[b + 24u + ((si & 7u) >> 2u)] >> ((si & 3u) * 8u + (si >> 3u) * 4u);
  let highs = $W[b + 26u] >> ((si & 3u) * 8u + (si >> 2u) * 2u);
  let sc = vec2u(
    (lows & 15u) | ((highs & 3u) << 4u),
    ((lows >> 8u) & 15u) | (((highs >> 8u) & 3u) << 4u),
  );
  let d = unpack2x16float($W[base + $NB * 27u + (blk >> 1u)])[blk & 1u];
  return vec2<T>(T(d * (f32(sc.x) - 32.0)), T(d * (f32(sc.y) - 32.0)));
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let b = row * $ROW + (g >> 5u) * 27u;
  let gi = g & 31u;
  let hv = gi >> 4u;
  let j = (gi >> 2u) & 3u;
  let l = ((gi >> 1u) & 1u) * 4u + (gi & 1u) * 2u;
  let q = b + 8u + hv * 8u + l;
  let sh = BYTE_SHIFTS + 2u * j;
  let hm = b + l;
  let hsh = BYTE_SHIFTS + hv * 4u + j;
  let dl = select(s.x, s.y, (gi & 2u) != 0u);
  let lo = vec4i((vec4u($W[q]) >> sh) & vec4u(3u)) -
    vec4i((~(vec4u($W[hm]) >> hsh) & vec4u(1u)) * 4u);
  let hi = vec4i((vec4u($W[q + 1u]) >> sh) & vec4u(3u)) -
    vec4i((~(vec4u($W[hm + 1u]) >> hsh) & vec4u(1u)) * 4u);
  return array<vec4<T>, 2>(dl * vec4<T>(lo), dl * vec4<T>(hi));
}
