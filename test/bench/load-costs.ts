// npm run bench:load-costs -- [--adapter lavapipe|swiftshader]
// What an adapter charges for a load beside arithmetic: loops of 8 workgroups of 8 threads (one
// SIMD vector on lavapipe) that each do 4096 steps of multiply-adds fed from registers, from
// storage-buffer loads at workgroup-uniform or per-thread addresses (scalar and vec4), and from
// workgroup memory; prints nanoseconds per step per workgroup. On CPU-backed adapters this is
// what decides a kernel's shape (docs/performance.md): the loads a product needs per
// multiply-add, not its arithmetic.
import { parseArgs } from 'node:util';
import { openTestDevice, storageBuffer } from '../gpu/harness.ts';
import { useSoftwareIcds } from '../../src/cli/engine-cli.ts';
import { median } from './compare/stats.ts';

useSoftwareIcds();
const { values } = parseArgs({ options: { adapter: { type: 'string', default: 'lavapipe' } } });
const { device, adapterInfo } = await openTestDevice(values.adapter as 'lavapipe', {
  disableF16: true,
});

const STEPS = 4096;
const WORKGROUPS = 64;
const WORDS = 1 << 16;
const HEAD = `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
var<workgroup> shared_x: array<f32, 4096>;
const STEPS = ${STEPS}u;`;

/** Each body runs STEPS times with `i` the step, `l` the thread, `c` a per-thread constant. */
const CASES: [string, string][] = [
  [
    '8 multiply-adds, operands in registers',
    'a = fma(a, vec4f(c), vec4f(0.5)); b = fma(b, vec4f(c), vec4f(0.5));',
  ],
  [
    '8 scalar loads, uniform address, + 8 multiply-adds',
    'let o = (i * 8u) & 65535u; a = fma(vec4f(x[o], x[o + 1u], x[o + 2u], x[o + 3u]), vec4f(c), a); b = fma(vec4f(x[o + 4u], x[o + 5u], x[o + 6u], x[o + 7u]), vec4f(c), b);',
  ],
  [
    '8 scalar loads, per-thread address, + 8 multiply-adds',
    'let o = ((i * 64u) & 65535u) + l * 8u; a = fma(vec4f(x[o], x[o + 1u], x[o + 2u], x[o + 3u]), vec4f(c), a); b = fma(vec4f(x[o + 4u], x[o + 5u], x[o + 6u], x[o + 7u]), vec4f(c), b);',
  ],
  [
    '2 vec4 loads, uniform address, + 8 multiply-adds',
    'let o = (i * 2u) & 16383u; a = fma(x4[o], vec4f(c), a); b = fma(x4[o + 1u], vec4f(c), b);',
  ],
  [
    '2 vec4 loads, per-thread address, + 8 multiply-adds',
    'let o = ((i * 16u) & 16383u) + l * 2u; a = fma(x4[o], vec4f(c), a); b = fma(x4[o + 1u], vec4f(c), b);',
  ],
  [
    '8 workgroup-memory loads, uniform address, + 8 multiply-adds',
    'let o = (i * 8u) & 4095u; a = fma(vec4f(shared_x[o], shared_x[o + 1u], shared_x[o + 2u], shared_x[o + 3u]), vec4f(c), a); b = fma(vec4f(shared_x[o + 4u], shared_x[o + 5u], shared_x[o + 6u], shared_x[o + 7u]), vec4f(c), b);',
  ],
];

const x = storageBuffer(
  device,
  Float32Array.from({ length: WORDS }, (_, i) => Math.sin(i)),
);
const y = storageBuffer(device, WORKGROUPS * 8 * 4);
const layout = device.createBindGroupLayout({
  entries: [0, 1, 2].map((binding) => ({
    binding,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type: binding === 2 ? ('storage' as const) : ('read-only-storage' as const) },
  })),
});
const bindGroup = device.createBindGroup({
  layout,
  entries: [x, x, y].map((buffer, binding) => ({ binding, resource: { buffer } })),
});

console.log(
  `${adapterInfo.description || adapterInfo.device}: ns per step per workgroup of 8 threads`,
);
for (const [name, body] of CASES) {
  const code = `${HEAD}
@compute @workgroup_size(8)
fn main(@builtin(local_invocation_index) l: u32, @builtin(workgroup_id) wid: vec3u) {
  for (var k = l; k < 4096u; k += 8u) { shared_x[k] = x[k]; }
  workgroupBarrier();
  let c = 0.999 + f32(l) * 1e-6;
  var a = vec4f(f32(l));
  var b = vec4f(0.0);
  for (var i = 0u; i < STEPS; i++) { ${body} }
  y[wid.x * 8u + l] = dot(a, b);
}`;
  const pipeline = await device.createComputePipelineAsync({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module: device.createShaderModule({ code }), entryPoint: 'main' },
  });
  const round = async () => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(WORKGROUPS);
    pass.end();
    const start = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - start;
  };
  await round();
  const ms = median([await round(), await round(), await round(), await round(), await round()]);
  console.log(
    `${name.padEnd(62)} ${((ms * 1e6) / (STEPS * WORKGROUPS)).toFixed(2).padStart(7)} ns`,
  );
}
device.destroy();
process.exit(0);
