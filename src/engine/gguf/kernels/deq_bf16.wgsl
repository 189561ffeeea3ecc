// BF16 rows, two values per u32: a bf16 is the top half of an f32 (no scale).
fn $F_pair(w: u32) -> vec2f {
  return vec2f(bitcast<f32>(w << 16u), bitcast<f32>(w & 0xffff0000u));
}

fn $F_scale(row: u32, g: u32) -> vec2<T> {
  return vec2<T>(T(1.0), T(0.0));
}

fn $F_at(row: u32, g: u32, s: vec2<T>) -> array<vec4<T>, 2> {
  let b = row * $ROW + g * 4u;
  let lo = vec4f($F_pair($W[b]), $F_pair($W[b + 1u]));
  let hi = vec4f($F_pair($W[b + 2u]), $F_pair($W[b + 3u]));
  return array<vec4<T>, 2>(vec4<T>(lo), vec4<T>(hi));
}
