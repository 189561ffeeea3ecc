// y = GELU(y) in place over the FFN values of each token of the pass (BERT's FFN), one workgroup
// per token. Constants: FF (values per token). `Step` is declared in host-structs.ts.
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

// f32 to the nearest f16 (ties to even), written out: quantizeToF16 does not round to nearest
// on every implementation.
fn round_f16(x: f32) -> f32 {
  if (abs(x) < 6.103515625e-05) {
    return round(x * 16777216.0) / 16777216.0;
  }
  let u = bitcast<u32>(x);
  return bitcast<f32>((u + 0xfffu + ((u >> 13u) & 1u)) & 0xffffe000u);
}

// The tanh approximation as ggml's CPU backend evaluates it: its cut-offs at +-10 and, between
// them, its f16 table (the f16 result for the f16-rounded input), so the FFN agrees with llama.cpp.
// 1 + tanh(z) is formed from exp(-2|z|) without cancelling (the built-in tanh of some
// implementations reaches -1 long before f32 must), so it stays within ggml's own f32 rounding.
fn gelu_tanh(x: f32) -> f32 {
  if (x <= -10.0) { return 0.0; }
  if (x >= 10.0) { return x; }
  let h = round_f16(x);
  let z = 0.797884561 * h * (1.0 + 0.044715 * h * h);
  let e = exp(-2.0 * abs(z));
  let one_plus_tanh = select(2.0 * e, 2.0, z >= 0.0) / (1.0 + e);
  return round_f16(0.5 * h * one_plus_tanh);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wid.y;
  if (t >= step.ntok) { return; }
  for (var i = tid; i < FF; i += 64u) {
    y[t * FF + i] = gelu_tanh(y[t * FF + i]);
  }
}
