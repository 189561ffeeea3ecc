// The input of the products whose weights are Q8_0, quantized once per token as llama.cpp's CPU
// backend quantizes it (its AVX path of quantize_row_q8_0): per block of 32 values,
// q = round(x * 127 / amax) as int8 (ties to even) and the scale amax / 127 rounded to f16. Per
// token XQS words: QUANTS words of quants (four per word, a block's 32 in 8 words), then one f32
// scale per block. One thread per block; tokens along y, or with LAST_TOKEN the pass's last token
// alone (the output layer's input). `Step` is declared in host-structs.ts.
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> xq: array<u32>;

// v >= 0 rounded to the nearest f16 value (ties to even), written out: SwiftShader's
// quantizeToF16 truncates. Past f16's range (a block of values beyond 8e6) it stays finite.
fn round_f16(v: f32) -> f32 {
  if (v < 6.103515625e-5) {
    return round(v * 16777216.0) / 16777216.0;
  }
  let u = bitcast<u32>(v);
  return bitcast<f32>((u + 0xfffu + ((u >> 13u) & 1u)) & 0xffffe000u);
}

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
  var amax = 0.0;
  for (var i = 0u; i < 8u; i++) {
    let v = abs(x[src + i]);
    amax = max(amax, max(max(v.x, v.y), max(v.z, v.w)));
  }
  let inverse = select(0.0, 127.0 / amax, amax != 0.0);
  let dst = t * XQS + b * 8u;
  for (var i = 0u; i < 8u; i++) {
    xq[dst + i] = pack4xI8(vec4i(round(x[src + i] * inverse)));
  }
  xq[t * XQS + QUANTS + b] = bitcast<u32>(round_f16(amax / 127.0));
}
