// F16 rows, two values per u32 (no scale).
fn $F_scale(row: u32, g: u32) -> vec2<T> {
  return vec2<T>(T(1.0), T(0.0));
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let b = row * $ROW + g * 4u;
  let lo = vec4f(unpack2x16float($W[b]), unpack2x16float($W[b + 1u]));
  let hi = vec4f(unpack2x16float($W[b + 2u]), unpack2x16float($W[b + 3u]));
  return array<vec4<T>, 2>(vec4<T>(lo), vec4<T>(hi));
}
