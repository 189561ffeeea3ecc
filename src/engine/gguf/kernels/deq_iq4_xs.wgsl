// IQ4_XS blocks (34 words): f16 d and the u16 of high scale bits (2 per sub-block), 4 bytes of low
// scale nibbles, then eight sub-blocks of 32 as 16 bytes of nibbles each (value j low, j + 16
// high). Sub-block i has scale d * (6-bit scale - 32); a nibble indexes kvalues_iq4nl.
var<private> $F_values: array<f32, 16> = array<f32, 16>(
  -127.0, -104.0, -83.0, -65.0, -49.0, -35.0, -22.0, -10.0,
  1.0, 13.0, 25.0, 38.0, 53.0, 69.0, 89.0, 113.0,
);

fn $F_lookup(n: vec4u) -> vec4f {
  return vec4f($F_values[n.x], $F_values[n.y], $F_values[n.z], $F_values[n.w]);
}

fn $F_scale(row: u32, g: u32) -> vec2<T> {
  let b = row * $ROW + (g >> 5u) * 34u;
  let ib = (g & 31u) >> 2u;
  let head = $W[b];
  let low = ($W[b + 1u] >> ((ib >> 1u) * 8u + (ib & 1u) * 4u)) & 15u;
  let high = (head >> (16u + 2u * ib)) & 3u;
  return vec2<T>(T(unpack2x16float(head).x * (f32(low | (high << 4u)) - 32.0)), T(0.0));
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let b = row * $ROW + (g >> 5u) * 34u;
  let gi = g & 31u;
  let sub = gi & 3u;
  let q = b + 2u + (gi >> 2u) * 4u + (sub & 1u) * 2u;
  let sh = BYTE_SHIFTS + (sub >> 1u) * 4u;
  let lo = $F_lookup((vec4u($W[q]) >> sh) & vec4u(15u));
  let hi = $F_lookup((vec4u($W[q + 1u]) >> sh) & vec4u(15u));
  return array<vec4<T>, 2>(s.x * vec4<T>(lo), s.x * vec4<T>(hi));
}
