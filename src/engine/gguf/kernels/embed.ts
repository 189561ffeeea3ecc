// Token embedding lookup: one workgroup per token writes its dequantized embedding row, times
// `scale` (Gemma multiplies by sqrt(n_embd)).
import { HOST_STRUCTS_WGSL } from './host-structs';
import type { ComputePrecision } from '../buffer-plan';
import { partedDequant, prelude, weightBindings, type WeightPart } from './dequant';
import type { BindingKind, KernelSource } from './matmul';

export function embedKernel(
  precision: ComputePrecision,
  parts: WeightPart[],
  rowLength: number,
  vocabSize: number,
  scale = 1,
): KernelSource {
  const bindings: BindingKind[] = [
    'uniform',
    'read',
    'rw',
    ...parts.map((): BindingKind => 'read'),
  ];
  const scaleBy = scale === 1 ? '' : ` * ${Math.fround(scale).toPrecision(9)}`;
  const code = `${prelude(precision)}
${HOST_STRUCTS_WGSL}@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4f>;
${weightBindings('w', 3, parts.length)}

${partedDequant('deq', 'w', 3, parts, rowLength)}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let t = wid.x;
  if (t >= step.ntok) { return; }
  let id = min(tokens[t], ${vocabSize - 1}u);
  for (var g = tid; g < ${rowLength / 8}u; g += 64u) {
    let v = deq(id, g);
    y[(t * ${rowLength}u) / 4u + g * 2u] = vec4f(v[0])${scaleBy};
    y[(t * ${rowLength}u) / 4u + g * 2u + 1u] = vec4f(v[1])${scaleBy};
  }
}
`;
  return { code, bindings };
}
