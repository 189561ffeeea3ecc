// The input of the products whose weights are Q8_0, Q5_0 or Q4_0, quantized once per token
// (quantize-block.wgsl) where no pass before the product writes it so already. One thread per
// block; tokens along y, or with LAST_TOKEN the pass's last token alone (the output layer's input).
// `Step` is declared in host-structs.ts.
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> xq: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
#if LAST_TOKEN
  let t = step.ntok - 1u;
#else
  let t = wid.y;
  if (t >= step.ntok) { return; }
#endif
  let b = gid.x;
  if (b >= BLOCKS) { return; }
  let src = t * XS + b * 8u;
  var v: array<vec4f, 8>;
  for (var i = 0u; i < 8u; i++) {
    v[i] = x[src + i];
  }
  store_q8_block(t, b, v);
}
