// What the CPU-backed adapters' subgroup attention kernels (subgroup-attention.wgsl,
// subgroup-decode-attention.wgsl) share: a lane's slice of a head, DK / LANES of a query's or
// key's values and DV / LANES of a value's, read from the qkv buffer or from the f16 KV cache
// eight values at a time. The kernel declares `qkv`, `kcache`, `vcache` and the constants.

// A lane's slice of a key row and of a value row, in vectors of eight f16 values.
const KW = DK / (8u * LANES);
const VW = DV / (8u * LANES);

// A lane's slice of one query or key or of its value sums: two vectors per eight values.
alias KeySlice = array<vec4f, 2u * KW>;
alias ValueSlice = array<vec4f, 2u * VW>;

// The lane's slice of the head at `at` (in vectors of the qkv buffer).
fn head_slice(at: u32, lane: u32) -> KeySlice {
  var x: KeySlice;
  for (var i = 0u; i < 2u * KW; i++) {
    x[i] = qkv[at + lane * 2u * KW + i];
  }
  return x;
}

// The lane's slice of row j of a cache. The key and value readers have one shape: WGSL takes no
// pointers into storage as parameters without an extension.
fn key_slice(j: u32, kh: u32, lane: u32) -> KeySlice {
  let at = (j * HKV + kh) * (DK / 8u) + lane * KW;
  var k: KeySlice;
  for (var i = 0u; i < KW; i++) {
    let eight = halves(kcache[at + i]);
    k[2u * i] = eight[0];
    k[2u * i + 1u] = eight[1];
  }
  return k;
}

fn value_slice(j: u32, kh: u32, lane: u32) -> ValueSlice {
  let at = (j * HKV + kh) * (DV / 8u) + lane * VW;
  var v: ValueSlice;
  for (var i = 0u; i < VW; i++) {
    let eight = halves(vcache[at + i]);
    v[2u * i] = eight[0];
    v[2u * i + 1u] = eight[1];
  }
  return v;
}
