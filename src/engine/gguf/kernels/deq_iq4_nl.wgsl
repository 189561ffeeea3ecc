// IQ4_NL packed row: $NB blocks of 16 bytes of nibbles (value j low, value j + 16 high), then the
// f16 scales two per word. A nibble indexes ggml's non-linear table kvalues_iq4nl.
var<private> $F_values: array<f32, 16> = array<f32, 16>(
  -127.0, -104.0, -83.0, -65.0, -49.0, -35.0, -22.0, -10.0,
  1.0, 13.0, 25.0, 38.0, 53.0, 69.0, 89.0, 113.0,
);

fn $F_lookup(n: vec4u) -> vec4f {
  return vec4f($F_values[n.x], $F_values[n.y], $F_values[n.z], $F_values[n.w]);
}

fn $F_scale(row: u32, g: u32) -> vec2<T> {
  let blk = g >> 2u;
  return vec2<T>(T(unpack2x16float($W[row * $ROW + $NB * 4u + (blk >> 1u)])[blk & 1u]), T(0.0));
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let sub = g & 3u;
  let q = row * $ROW + (g >> 2u) * 4u + (sub & 1u) * 2u;
  let sh = BYTE_SHIFTS + (sub >> 1u) * 4u;
  let lo = $F_lookup((vec4u($W[q]) >> sh) & vec4u(15u));
  let hi = $F_lookup((vec4u($W[q + 1u]) >> sh) & vec4u(15u));
  return array<vec4<T>, 2>(s.x * vec4<T>(lo), s.x * vec4<T>(hi));
}
