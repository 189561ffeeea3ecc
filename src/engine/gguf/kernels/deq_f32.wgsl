// F32 rows: eight consecutive values starting at value g * 8 (no scale).
fn $F_scale(row: u32, g: u32) -> vec2<T> {
  return vec2<T>(T(1.0), T(0.0));
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let b = row * $ROW + g * 8u;
  let lo = bitcast<vec4f>(vec4u($W[b], $W[b + 1u], $W[b + 2u], $W[b + 3u]));
  let hi = bitcast<vec4f>(vec4u($W[b + 4u], $W[b + 5u], $W[b + 6u], $W[b + 7u]));
  return array<vec4<T>, 2>(vec4<T>(lo), vec4<T>(hi));
}
