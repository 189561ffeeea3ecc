// Token embedding lookup: one workgroup per token writes its dequantized embedding row, times
// SCALE when SCALED (Gemma multiplies by sqrt(n_embd)). Constants: ROW (values per row), VOCAB
// (ids at or past it read the last row). `deq(row, g)`, the eight values g * 8 .. g * 8 + 7 of a
// row of the table bound from binding 3 on, comes before this file (embed.ts).
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4f>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wid.x;
  if (t >= step.ntok) { return; }
  let id = min(tokens[t], VOCAB - 1u);
  for (var g = tid; g < ROW / 8u; g += 64u) {
    let v = deq(id, g);
#if SCALED
    y[(t * ROW) / 4u + g * 2u] = vec4f(v[0]) * SCALE;
    y[(t * ROW) / 4u + g * 2u + 1u] = vec4f(v[1]) * SCALE;
#else
    y[(t * ROW) / 4u + g * 2u] = vec4f(v[0]);
    y[(t * ROW) / 4u + g * 2u + 1u] = vec4f(v[1]);
#endif
  }
}
