// y = GELU(y) in place over the FFN values of each token of the pass (BERT's FFN), one workgroup
// per token. Constants: FF (values per token). `Step` is declared in host-structs.ts.
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

// The tanh approximation as ggml's CPU backend evaluates it: its cut-offs at +-10 and, between
// them, its f16 table (the f16 result for the f16-rounded input), so the FFN agrees with llama.cpp.
fn gelu_tanh(x: f32) -> f32 {
  if (x <= -10.0) { return 0.0; }
  if (x >= 10.0) { return x; }
  let h = quantizeToF16(x);
  return quantizeToF16(0.5 * h * (1.0 + tanh(0.797884561 * h * (1.0 + 0.044715 * h * h))));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wid.y;
  if (t >= step.ntok) { return; }
  for (var i = tid; i < FF; i += 64u) {
    y[t * FF + i] = gelu_tanh(y[t * FF + i]);
  }
}
