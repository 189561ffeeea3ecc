// One block of 32 values quantized as llama.cpp's CPU backend quantizes the input of a product over
// Q8_0, Q5_0, Q4_0 or IQ4_NL weights (its AVX path of quantize_row_q8_0): q = round(x * 127 /
// amax) as int8 (ties to even) and the scale amax / 127 rounded to f16. Every pass that writes a product's 8-bit
// input (the quantize pass, the RMSNorm pass, the attention reduce) writes it through
// store_q8_block, so each gives the others' bits. The kernel declares `xq` and the layout's
// constants: per token XQS words, QUANTS words of quants (four per word, a block's 32 in 8 words),
// then one scale per block.

// v >= 0 rounded to the nearest f16 value (ties to even), written out: SwiftShader's
// quantizeToF16 truncates. Past f16's range (a block of values beyond 8e6) it stays finite.
fn round_f16(v: f32) -> f32 {
  if (v < 6.103515625e-5) {
    return round(v * 16777216.0) / 16777216.0;
  }
  let u = bitcast<u32>(v);
  return bitcast<f32>((u + 0xfffu + ((u >> 13u) & 1u)) & 0xffffe000u);
}

// Block b of token t's 8-bit input, from its 32 values.
fn store_q8_block(t: u32, b: u32, v: array<vec4f, 8>) {
  var amax = 0.0;
  for (var i = 0u; i < 8u; i++) {
    let a = abs(v[i]);
    amax = max(amax, max(max(a.x, a.y), max(a.z, a.w)));
  }
  let inverse = select(0.0, 127.0 / amax, amax != 0.0);
  let dst = t * XQS + b * 8u;
  for (var i = 0u; i < 8u; i++) {
    xq[dst + i] = pack4xI8(vec4i(round(v[i] * inverse)));
  }
  xq[t * XQS + QUANTS + b] = bitcast<u32>(round_f16(amax / 127.0));
}
