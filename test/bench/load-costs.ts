// npm run bench:load-costs -- [--adapter lavapipe|swiftshader]
// What an adapter charges for a load beside arithmetic: loops of 8 workgroups of 8 threads (one
// SIMD vector on lavapipe) that each do 4096 steps of multiply-adds fed from registers, from
// storage-buffer loads at workgroup-uniform or per-thread addresses (scalar and vec4), and from
// workgroup memory; prints nanoseconds per step per workgroup. On CPU-backed adapters this is
// what decides a kernel's shape (docs/performance.md): the loads a product needs per
// multiply-add, not its arithmetic.
// Then the floor of a decode token's weight reads: a 128 MiB buffer read once, one invocation per
// row of 39 vectors (a 576-wide Q8_0 row padded to 16 bytes), vec4 loads, nothing but an XOR per
// load, rows laid out one after another and interleaved per 8 rows as the engine lays Q8_0 out on
// these adapters; printed as nanoseconds per 32-bit word and milliseconds for the 35.7 M words a
// SmolLM2-135M Q8_0 decode token reads.
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

/** Milliseconds of one dispatch of `workgroups`: the median of five after one untimed. */
async function dispatchMs(
  pipeline: GPUComputePipeline,
  group: GPUBindGroup,
  workgroups: number,
): Promise<number> {
  const round = async () => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(workgroups);
    pass.end();
    const start = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - start;
  };
  await round();
  return median([await round(), await round(), await round(), await round(), await round()]);
}

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
  const ms = await dispatchMs(pipeline, bindGroup, WORKGROUPS);
  console.log(
    `${name.padEnd(62)} ${((ms * 1e6) / (STEPS * WORKGROUPS)).toFixed(2).padStart(7)} ns`,
  );
}

const ROW4 = 39;
const STREAM_ROWS = Math.floor((128 << 20) / 16 / ROW4);
const TOKEN_WORDS = 35.7e6;
const stream = device.createBuffer({
  size: STREAM_ROWS * ROW4 * 16,
  usage: GPUBufferUsage.STORAGE,
});
const streamOut = storageBuffer(device, STREAM_ROWS * 4);
const LAYOUTS: [string, string][] = [
  ['rows one after another', 'row * ROW4 + i'],
  ['rows interleaved per 8 (Q8_0 here)', '((row / 8u) * ROW4 + i) * 8u + row % 8u'],
];
console.log(`\n${STREAM_ROWS * ROW4 * 4} words read once, one row of ${ROW4} vec4 per invocation`);
for (const [name, index] of LAYOUTS) {
  const code = `
@group(0) @binding(0) var<storage, read> w: array<vec4u>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
const ROW4 = ${ROW4}u;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.x;
  if (row >= ${STREAM_ROWS}u) { return; }
  var acc = vec4u();
  for (var i = 0u; i < ROW4; i++) { acc ^= w[${index}]; }
  out[row] = acc.x ^ acc.y ^ acc.z ^ acc.w;
}`;
  const pipeline = await device.createComputePipelineAsync({
    layout: 'auto',
    compute: { module: device.createShaderModule({ code }), entryPoint: 'main' },
  });
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [stream, streamOut].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const ms = await dispatchMs(pipeline, group, Math.ceil(STREAM_ROWS / 64));
  const perWord = (ms * 1e6) / (STREAM_ROWS * ROW4 * 4);
  console.log(
    `${name.padEnd(40)} ${perWord.toFixed(3)} ns per word, ` +
      `${((perWord * TOKEN_WORDS) / 1e6).toFixed(1)} ms per 35.7 M words`,
  );
}
device.destroy();
process.exit(0);
