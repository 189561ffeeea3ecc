// What the CPU-backed adapters' attention kernels (query-attention.wgsl, subgroup-attention.wgsl)
// share: a cache row's f16 values eight at a time, and the first position a token sees. The kernel
// declares `step` and the constant WINDOW.

// Eight f16 values of a cache row.
fn halves(w: vec4u) -> array<vec4f, 2> {
  return array<vec4f, 2>(
    vec4f(unpack2x16float(w.x), unpack2x16float(w.y)),
    vec4f(unpack2x16float(w.z), unpack2x16float(w.w)),
  );
}

// The first position token t of the pass sees.
fn first_seen(t: u32) -> u32 {
  let n = step.pos0 + t + 1u;
  if (WINDOW > 0u) {
    return n - min(n, WINDOW);
  }
  return 0u;
}
