// npm run bench:gemm -- [--adapter lavapipe|swiftshader] [--type Q8_0] [--tokens 32] [--rounds 3]
// Times one prefill pass of each of SmolLM2-135M's layer products (q/k/v 576 -> 576 + 192 + 192,
// attention output 576 -> 576 with the residual add, gate/up 576 -> 2 x 1536 with SwiGLU, down
// 1536 -> 576 with the residual add) through each way the engine can run a pass of several
// tokens: the matrix-vector kernel reading each weight once per 4 tokens (matmul.ts), and the
// GEMM with its tile staged in workgroup memory or read straight from the buffers (gemm.ts), with
// Q8_0 weights also against 8-bit inputs, each thread reading its rows and each weight step read
// once per subgroup (`SHARED_WEIGHT_TILES`).
// Random weights of one type, f32 compute; candidates interleaved per round; prints the median
// milliseconds per pass, the multiply-adds per second, and the first dispatch's time (lavapipe
// compiles a pipeline then).
import { parseArgs } from 'node:util';
import { openTestDevice, storageBuffer } from '../gpu/harness.ts';
import { memoryGroup } from '../gpu/reference/memory-group.ts';
import { GGMLType } from '../../src/engine/gguf/types.ts';
import {
  matmulKernel,
  matmulRows,
  matmulWorkgroups,
  sharedInputLanes,
  type MatmulSegment,
  type MatmulSpec,
} from '../../src/engine/gguf/kernels/matmul.ts';
import {
  CPU_GEMM_TILES,
  DEFAULT_GEMM_TILES,
  SHARED_WEIGHT_TILES,
  gemmKernel,
  gemmWorkgroups,
} from '../../src/engine/gguf/kernels/gemm.ts';
import {
  quantizedInputQuants,
  quantizedInputWords,
} from '../../src/engine/gguf/kernels/quantize-input.ts';
import { PipelineCache, type Kernel } from '../../src/engine/gguf/kernels/pipeline.ts';
import { weightParts } from '../../src/engine/gguf/kernels/dequant.ts';
import { useSoftwareIcds } from '../../src/cli/engine-cli.ts';
import { median } from './compare/stats.ts';

useSoftwareIcds();

const { values } = parseArgs({
  options: {
    adapter: { type: 'string', default: 'lavapipe' },
    type: { type: 'string', default: 'Q8_0' },
    tokens: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
  },
});
const type = GGMLType[values.type as keyof typeof GGMLType];
if (type === undefined) throw new Error(`unknown weight type ${values.type}`);
const ntok = Number(values.tokens);
const rounds = Number(values.rounds);
const E = 576;
const FF = 1536;
const KV = 192;

interface Shape {
  name: string;
  inputLength: number;
  mode: MatmulSpec['mode'];
  /** Rows of each tensor bound, in binding order (a fused gate/up is one tensor of 2 x FF). */
  tensors: number[];
}
const SHAPES: Shape[] = [
  { name: 'qkv', inputLength: E, mode: 'plain', tensors: [E, KV, KV] },
  { name: 'attn_output', inputLength: E, mode: 'residual', tensors: [E] },
  { name: 'gate_up', inputLength: E, mode: 'swiglu', tensors: [2 * FF] },
  { name: 'down', inputLength: FF, mode: 'residual', tensors: [E] },
];

const { device, adapterInfo } = await openTestDevice(values.adapter as 'lavapipe', {
  disableF16: true,
});
const cache = new PipelineCache(device);
const info = adapterInfo as GPUAdapterInfo & { subgroupMinSize?: number };
const lanes = sharedInputLanes(device.features.has('subgroups'), info.subgroupMinSize);
if (lanes === undefined) throw new Error('the shared-weight GEMM needs subgroups of 4 or more');
console.log(
  `${adapterInfo.description || adapterInfo.device}, ${values.type} weights, f32 compute, ` +
    `${ntok}-token passes, median of ${rounds} rounds`,
);

interface Candidate {
  name: string;
  kernel: Kernel;
  workgroups: [number, number];
  bindGroup?: GPUBindGroup;
  /** The input it reads, when not the f32 values. */
  input?: GPUBuffer;
  firstMs?: number;
  times: number[];
}

for (const shape of SHAPES) {
  const K = shape.inputLength;
  const group = await memoryGroup(
    shape.tensors.map((rows, i) => ({ name: `w${i}`, type, dims: [K, rows] })),
    shape.tensors.length,
  );
  const parts = (i: number) => weightParts(group.layout.matrices.get(`w${i}`)!);
  let segments: MatmulSegment[];
  if (shape.mode === 'swiglu') {
    segments = [
      { parts: parts(0), rows: FF, outColumn: 0 },
      { parts: parts(0), rows: FF, outColumn: 0, rowOffset: FF },
    ];
  } else {
    let column = 0;
    segments = shape.tensors.map((rows, i) => {
      const s = { parts: parts(i), rows, outColumn: column };
      column += rows;
      return s;
    });
  }
  const spec: MatmulSpec = {
    precision: 'f32',
    inputLength: K,
    inputStride: K,
    outputStride: matmulRows({ mode: shape.mode, segments } as MatmulSpec),
    mode: shape.mode,
    segments,
  };
  const weights = storageBuffer(device, group.image);
  const bound = (shape.mode === 'swiglu' ? [0, 0] : shape.tensors.map((_, i) => i)).flatMap((i) =>
    group.layout.matrices
      .get(`w${i}`)!
      .parts.map((p) => ({ buffer: weights, offset: p.offset, size: p.bytes })),
  );
  const step = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(step, 0, new Uint32Array([ntok, 0, 0, 0]));
  const x = storageBuffer(
    device,
    Float32Array.from({ length: ntok * K }, (_, i) => Math.sin(i)),
  );
  const vecs = storageBuffer(device, 16);
  const y = storageBuffer(device, ntok * spec.outputStride * 4);
  const matvecSpec: MatmulSpec = { ...spec, tokens: 4, lanesPerRow: 1 };
  // An input as quantize-input.wgsl writes it: random int8 quants, then f32 scales per block.
  const words = quantizedInputWords(K);
  const xqData = new Uint32Array(ntok * words).map(() => (Math.random() * 2 ** 32) >>> 0);
  const scales = new Float32Array(xqData.buffer);
  for (let t = 0; t < ntok; t++) {
    for (let i = quantizedInputQuants(K); i < words; i++) scales[t * words + i] = 0.01;
  }
  const xq = storageBuffer(device, xqData);
  const candidates: Candidate[] = [
    {
      name: 'matrix-vector, 4 tokens per read',
      kernel: await cache.get(matmulKernel(matvecSpec), shape.name),
      workgroups: matmulWorkgroups(matvecSpec),
      times: [],
    },
    {
      name: 'GEMM staged in workgroup memory',
      kernel: await cache.get(gemmKernel(spec, DEFAULT_GEMM_TILES), shape.name),
      workgroups: gemmWorkgroups(spec, ntok, DEFAULT_GEMM_TILES),
      times: [],
    },
    {
      name: 'GEMM read straight from the buffers',
      kernel: await cache.get(gemmKernel(spec, CPU_GEMM_TILES), shape.name),
      workgroups: gemmWorkgroups(spec, ntok, CPU_GEMM_TILES),
      times: [],
    },
  ];
  if (type === GGMLType.Q8_0) {
    const q8Spec = { ...spec, q8Input: true };
    candidates.push({
      name: 'GEMM unstaged, 8-bit inputs',
      kernel: await cache.get(gemmKernel(q8Spec, CPU_GEMM_TILES), shape.name),
      workgroups: gemmWorkgroups(q8Spec, ntok, CPU_GEMM_TILES),
      input: xq,
      times: [],
    });
    const shared = SHARED_WEIGHT_TILES[lanes];
    candidates.push({
      name: `GEMM weights over ${lanes} lanes, 8-bit`,
      kernel: await cache.get(gemmKernel(q8Spec, shared), shape.name),
      workgroups: gemmWorkgroups(q8Spec, ntok, shared),
      input: xq,
      times: [],
    });
  }
  const run = async (c: Candidate) => {
    c.bindGroup ??= cache.bindGroup(c.kernel, [
      { buffer: step },
      { buffer: c.input ?? x },
      { buffer: vecs },
      { buffer: y },
      ...bound,
    ]);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(c.kernel.pipeline);
    pass.setBindGroup(0, c.bindGroup);
    pass.dispatchWorkgroups(...c.workgroups);
    pass.end();
    const start = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - start;
  };
  for (const c of candidates) c.firstMs = await run(c);
  for (let r = 0; r < rounds; r++) {
    for (const c of candidates) c.times.push(await run(c));
  }
  const macs = ntok * K * shape.tensors.reduce((a, b) => a + b, 0);
  for (const c of candidates) {
    const ms = median(c.times);
    console.log(
      `${shape.name.padEnd(12)} ${c.name.padEnd(38)} ${ms.toFixed(2).padStart(8)} ms ` +
        `${(macs / ms / 1e6).toFixed(2).padStart(6)} GMAC/s  (first dispatch ${c.firstMs!.toFixed(0)} ms)`,
    );
  }
}
device.destroy();
process.exit(0);
