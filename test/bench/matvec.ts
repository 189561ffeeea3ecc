// npm run bench:matvec -- [--adapter lavapipe|swiftshader] [--type Q8_0] [--variants JSON] [--q8 [--shared]]
//   [--width 576] [--ffn 1536]
// Times isolated one-token matrix-vector dispatches in SmolLM2-135M's decode shapes (q/k/v 576 ->
// 960, gate/up 576 -> 2 x 1536 with SwiGLU, down 1536 -> 576 with the residual add, the output
// layer 576 -> 49152; --width and --ffn change the model and FFN widths, q/k/v staying 5/3 of the
// width, for K-quants' blocks of 256) for each kernel variant, random weights of one type, f32 compute: median
// milliseconds per dispatch of three rounds after a warm-up, and the process's CPU time in that
// round (the software adapters' threads run in it). The weights of the small products
// stay in the CPU's caches between repetitions; the output layer's 30 MB do not. With --q8 (a
// type that takes them: Q8_0, Q5_0, Q4_0 against Q8_0 inputs, Q3_K-Q6_K against Q8_K) the products
// read 8-bit inputs, multiplied with integer dot products; --shared reads
// them once per subgroup (variants of one lane and one row per thread).
import { parseArgs } from 'node:util';
import { openTestDevice, storageBuffer } from '../gpu/harness.ts';
import { memoryGroup } from '../gpu/reference/memory-group.ts';
import { GGMLType } from '../../src/engine/gguf/types.ts';
import {
  matmulKernel,
  matmulWorkgroups,
  sharedInputLanes,
  type DecodeVariant,
  type MatmulSpec,
} from '../../src/engine/gguf/kernels/matmul.ts';
import {
  quantizedInputQuants,
  quantizedInputWords,
} from '../../src/engine/gguf/kernels/quantize-input.ts';
import { PipelineCache } from '../../src/engine/gguf/kernels/pipeline.ts';
import {
  q8InputFormat,
  q8InputTypeNames,
  weightParts,
} from '../../src/engine/gguf/kernels/dequant.ts';
import { useSoftwareIcds } from '../../src/cli/engine-cli.ts';

useSoftwareIcds();

/**
 * One lane and one row per thread (CPU-backed adapters' layers), more rows per thread with one
 * and four lanes, and the output layer's default on CPU-backed adapters.
 */
const DEFAULT_VARIANTS: DecodeVariant[] = [
  { lanesPerRow: 1, workgroupSize: 64, rowsPerThread: 1, subgroups: false },
  { lanesPerRow: 1, workgroupSize: 64, rowsPerThread: 4, subgroups: false },
  { lanesPerRow: 1, workgroupSize: 16, rowsPerThread: 4, subgroups: false },
  { lanesPerRow: 4, workgroupSize: 64, rowsPerThread: 4, subgroups: true },
  { lanesPerRow: 8, workgroupSize: 64, rowsPerThread: 4, subgroups: true },
];

const { values } = parseArgs({
  options: {
    adapter: { type: 'string', default: 'lavapipe' },
    type: { type: 'string', default: 'Q8_0' },
    variants: { type: 'string' },
    q8: { type: 'boolean', default: false },
    shared: { type: 'boolean', default: false },
    width: { type: 'string', default: '576' },
    ffn: { type: 'string', default: '1536' },
  },
});
const type = GGMLType[values.type as keyof typeof GGMLType];
if (type === undefined) throw new Error(`unknown weight type ${values.type}`);
const q8Input = values.q8;
const format = q8InputFormat([type]);
if (q8Input && !format) throw new Error(`--q8 takes ${q8InputTypeNames().join(', ')} weights`);
const variants: DecodeVariant[] = values.variants ? JSON.parse(values.variants) : DEFAULT_VARIANTS;
const E = Number(values.width);
const FF = Number(values.ffn);
const VOCAB = 49152;
const SHAPES: [string, number, number, MatmulSpec['mode']][] = [
  ['qkv', E, Math.round((E * 5) / 3), 'plain'],
  ['gate_up', E, FF, 'swiglu'],
  ['down', FF, E, 'residual'],
  ['output', E, VOCAB, 'plain'],
];

const { device, adapterInfo } = await openTestDevice(values.adapter as 'lavapipe', {
  disableF16: true,
});
const cache = new PipelineCache(device);
const { subgroupMinSize } = adapterInfo as GPUAdapterInfo & { subgroupMinSize?: number };
const sharedLanes = sharedInputLanes(device.features.has('subgroups'), subgroupMinSize);
if (values.shared && !sharedLanes) throw new Error('--shared needs subgroups of at least 4');
console.log(
  `${adapterInfo.description || adapterInfo.device}, ${values.type} weights, f32 compute` +
    (q8Input ? ', 8-bit inputs' : ''),
);

/** One token's input as quantize-input.wgsl writes it: random int8 quants, then f32 scales. */
function quantizedInput(length: number): Uint32Array {
  const words = new Uint32Array(quantizedInputWords(length, format)).map(
    () => (Math.random() * 2 ** 32) >>> 0,
  );
  new Float32Array(words.buffer).fill(0.01, quantizedInputQuants(length));
  return words;
}
for (const [name, K, rows, mode] of SHAPES) {
  const gated = mode === 'swiglu';
  // 8-bit inputs run on CPU-backed adapters, where Q8_0 rows are interleaved per group.
  const dims = [K, gated ? 2 * rows : rows];
  const group = await memoryGroup([{ name: 'w', type, dims }], 1, undefined, q8Input);
  const m = group.layout.matrices.get('w')!;
  const parts = weightParts(m);
  const segments = gated
    ? [
        { parts, rows, outColumn: 0 },
        { parts, rows, outColumn: 0, rowOffset: rows },
      ]
    : [{ parts, rows, outColumn: 0 }];
  const weights = storageBuffer(device, group.image);
  const slices = m.parts.map((p) => ({ buffer: weights, offset: p.offset, size: p.bytes }));
  const step = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(step, 0, new Uint32Array([1, 0, 0, 0]));
  const x = storageBuffer(
    device,
    q8Input ? quantizedInput(K) : Float32Array.from({ length: K }, (_, i) => Math.sin(i)),
  );
  const y = storageBuffer(device, rows * 4);
  for (const variant of variants) {
    const spec: MatmulSpec = {
      precision: 'f32',
      inputLength: K,
      inputStride: K,
      outputStride: rows,
      mode,
      segments,
      lastTokenOnly: name === 'output',
      tokens: 1,
      q8Input,
      sharedInput: values.shared ? sharedLanes : undefined,
      ...variant,
    };
    const kernel = await cache.get(matmulKernel(spec), name);
    const bindGroup = cache.bindGroup(kernel, [
      { buffer: step },
      { buffer: x },
      { buffer: weights, offset: 0, size: 256 },
      { buffer: y },
      ...(gated ? [...slices, ...slices] : slices),
    ]);
    const repeats = name === 'output' ? 5 : 20;
    const round = async () => {
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(kernel.pipeline);
      pass.setBindGroup(0, bindGroup);
      for (let i = 0; i < repeats; i++) pass.dispatchWorkgroups(...matmulWorkgroups(spec));
      pass.end();
      const cpu0 = process.cpuUsage();
      const start = performance.now();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      const cpu = process.cpuUsage(cpu0);
      return [(performance.now() - start) / repeats, (cpu.user + cpu.system) / 1000 / repeats];
    };
    await round();
    const times = [await round(), await round(), await round()].sort((a, b) => a[0] - b[0]);
    const knobs = `${variant.lanesPerRow} lanes, ${variant.rowsPerThread} rows/thread, ${variant.workgroupSize} threads, ${variant.subgroups ? 'subgroups' : 'workgroup memory'}`;
    const [ms, cpuMs] = times[1];
    console.log(
      `${name.padEnd(8)} ${knobs.padEnd(56)} ${ms.toFixed(3)} ms (CPU ${cpuMs.toFixed(3)} ms)`,
    );
  }
}
device.destroy();
process.exit(0);
