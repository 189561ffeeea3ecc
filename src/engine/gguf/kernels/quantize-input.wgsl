// The input of the products whose weights take Q8_0 inputs, quantized once per token
// (quantize-block.wgsl) where no pass before the product writes it so already, or with Q8_K that
// of products over K-quants and IQ4_XS. One thread per block; tokens along y, or with LAST_TOKEN the pass's
// last token alone (the output layer's input).
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
#if Q8_K
  store_q8k_block(t, b);
#else
  let src = t * XS + b * 8u;
  var v: array<vec4f, 8>;
  for (var i = 0u; i < 8u; i++) {
    v[i] = x[src + i];
  }
  store_q8_block(t, b, v);
#endif
}

#if Q8_K
// Block b (256 values) of token t quantized as llama.cpp's quantize_row_q8_K: the value of largest
// magnitude (the first of equals) sets iscale = -127 / it, q = min(round(x * iscale), 127) (ties
// to even), the scale 1 / iscale; written per block of 32 with that scale and the scale times the
// sum of the 32 quants (the Q8_K block's bsums, as the products' offsets use them).
fn store_q8k_block(t: u32, b: u32) {
  let src = t * XS + b * 64u;
  var amax = 0.0;
  var signed_max = 0.0;
  for (var i = 0u; i < 64u; i++) {
    let v = x[src + i];
    for (var c = 0u; c < 4u; c++) {
      if (abs(v[c]) > amax) {
        amax = abs(v[c]);
        signed_max = v[c];
      }
    }
  }
  let iscale = select(0.0, -127.0 / signed_max, amax != 0.0);
  let d = select(0.0, 1.0 / iscale, amax != 0.0);
  for (var blk = b * 8u; blk < b * 8u + 8u; blk++) {
    var sum = 0;
    for (var i = 0u; i < 8u; i++) {
      let q = min(vec4i(round(x[t * XS + blk * 8u + i] * iscale)), vec4i(127));
      sum += q.x + q.y + q.z + q.w;
      xq[t * XQS + blk * 8u + i] = pack4xI8(q);
    }
    xq[t * XQS + QUANTS + blk] = bitcast<u32>(d);
    xq[t * XQS + SUMS + blk] = bitcast<u32>(d * f32(sum));
  }
}
#endif
