// `npm run bench:attention -- [--adapter lavapipe|swiftshader] [--baseline REV] [--rounds N]`:
// decode attention of one token through all 30 layers of SmolLM2-135M's shape (9 query heads, 3 KV
// heads, 64 wide) at positions 16, 128 and 512 of a 4096-token cache, in milliseconds per token.
// With --baseline, the attention kernel of that git revision (a `$NAME`-substituted
// attention.wgsl, one workgroup per query head) runs interleaved with the current one in the same
// process, so a busy machine slows both alike; figures go to docs/performance.md.
import { execFileSync } from 'node:child_process';
import { openEngineDevice } from '../../src/gpu/device';
import { requestNodeAdapter, type NodeAdapterName } from '../../src/gpu/node-gpu';
import { attentionKernels } from '../../src/engine/gguf/kernels/attention';
import {
  queryAttentionKernel,
  querySplitWorkgroups,
  subgroupAttentionLanes,
  subgroupDecodeAttentionKernel,
  subgroupDecodeWorkgroups,
} from '../../src/engine/gguf/kernels/prefill-attention';
import { deviceSubgroups } from '../../src/gpu/probe';
import { HOST_STRUCTS_WGSL, packStruct, STEP } from '../../src/engine/gguf/kernels/host-structs';
import { PipelineCache, sourceVariant, type Kernel } from '../../src/engine/gguf/kernels/pipeline';
import { f32Constant } from '../../src/engine/gguf/kernels/preprocess';
import { attentionSplit, qkvWidth } from '../../src/engine/gguf/buffer-plan';
import { f32ToF16Bits } from '../../src/engine/gguf/half';
import { parseCliArgs, numberFlag } from '../../src/cli/args';
import { useSoftwareIcds } from '../../src/cli/engine-cli';
import { median } from './compare/stats';
import type { ModelHparams } from '../../src/engine/gguf/types';

const CONTEXT = 4096;
const LAYERS = 30;
const POSITIONS = [16, 128, 512];
const USAGE =
  'usage: npm run bench:attention -- [--adapter lavapipe|swiftshader] [--baseline REV] [--rounds N]';

const SMOLLM2_135M: ModelHparams = {
  architecture: 'llama',
  name: 'SmolLM2-135M shape',
  blockCount: LAYERS,
  embeddingLength: 576,
  feedForwardLength: 1536,
  headCount: 9,
  headCountKv: 3,
  keyLength: 64,
  valueLength: 64,
  contextLength: CONTEXT,
  vocabSize: 49152,
  rmsEpsilon: 1e-5,
  ropeTheta: 100000,
  ropeDims: 64,
  ropePairing: 'adjacent',
  ropeScaling: { type: 'none', factor: 1 },
  ropeAttnFactor: 1,
  tiedEmbeddings: true,
  slidingWindow: 0,
  slidingPeriod: 0,
  ropeThetaLocal: 100000,
  attentionSoftCap: 0,
  finalSoftCap: 0,
};

/** The baseline revision's kernel: its `$NAME` constants substituted as that revision did. */
function baselineCode(revision: string, h: ModelHparams): string {
  const source = execFileSync('git', [
    'show',
    `${revision}:src/engine/gguf/kernels/attention.wgsl`,
  ]).toString();
  const values: Record<string, string | number> = {
    H: h.headCount,
    HKV: h.headCountKv,
    DK: h.keyLength,
    DV: h.valueLength,
    QKV: qkvWidth(h),
    ACC: Math.ceil(h.valueLength / 64),
    SCALE: f32Constant(1 / Math.sqrt(h.keyLength)).wgsl,
    WINDOW: 0,
    SOFTCAP: f32Constant(0).wgsl,
  };
  let code = source;
  for (const key of Object.keys(values).sort((a, b) => b.length - a.length)) {
    code = code.replaceAll(`$${key}`, String(values[key]));
  }
  if (/\$[A-Z_]+/.test(code)) throw new Error(`${revision}'s attention.wgsl has unknown constants`);
  return HOST_STRUCTS_WGSL + code;
}

async function main(): Promise<void> {
  const args = parseCliArgs(process.argv.slice(2), USAGE, {
    flags: [],
    values: ['adapter', 'baseline', 'rounds'],
  });
  const adapter = (args.values.adapter ?? 'lavapipe') as NodeAdapterName;
  const rounds = numberFlag(args, 'rounds', 15);
  useSoftwareIcds();
  const device = await openEngineDevice(await requestNodeAdapter(adapter), { disableF16: true });
  const gpu = device.device;
  const h = SMOLLM2_135M;
  const cache = new PipelineCache(gpu);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const buffer = (bytes: number) => gpu.createBuffer({ size: bytes, usage });
  const kvWords = (CONTEXT * h.headCountKv * h.keyLength) / 2;
  const random = (n: number) => {
    const words = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      words[i] = f32ToF16Bits(Math.random() - 0.5) | (f32ToF16Bits(Math.random() - 0.5) << 16);
    }
    return words;
  };
  const kcache = buffer(kvWords * 4);
  const vcache = buffer(kvWords * 4);
  gpu.queue.writeBuffer(kcache, 0, random(kvWords));
  gpu.queue.writeBuffer(vcache, 0, random(kvWords));
  const qkv = buffer(qkvWidth(h) * 4);
  gpu.queue.writeBuffer(
    qkv,
    0,
    Float32Array.from({ length: qkvWidth(h) }, () => Math.random()),
  );
  const out = buffer(h.headCount * h.valueLength * 4);
  const partials = buffer(h.headCount * attentionSplit(CONTEXT).count * (h.valueLength + 2) * 4);
  const step = gpu.createBuffer({
    size: STEP.bytes,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  type Dispatch = [Kernel, GPUBindGroup, (pos: number) => number];
  const bind = (k: Kernel, buffers: GPUBuffer[]) =>
    cache.bindGroup(
      k,
      buffers.map((b) => ({ buffer: b })),
    );
  const kernels = attentionKernels(h, CONTEXT);
  const split = await cache.get(kernels.split);
  const reduce = await cache.get(kernels.reduce);
  const contenders: [string, Dispatch[]][] = [
    [
      'split + reduce',
      [
        [
          split,
          bind(split, [step, qkv, kcache, vcache, partials]),
          (pos) => h.headCountKv * Math.ceil((pos + 1) / kernels.splitPositions),
        ],
        [reduce, bind(reduce, [step, partials, out]), () => h.headCount],
      ],
    ],
  ];
  // CPU-backed adapters' forms into the same partials: one thread per query head and split, and
  // where the subgroups fit a KV head's query heads per subgroup.
  const splits = (pos: number) => Math.ceil((pos + 1) / kernels.splitPositions);
  const perQuery = await cache.get(queryAttentionKernel(h, 0, attentionSplit(CONTEXT)));
  contenders.push([
    'per query + reduce',
    [
      [
        perQuery,
        bind(perQuery, [step, qkv, kcache, vcache, partials]),
        (pos) => querySplitWorkgroups(h, 1, splits(pos))[0],
      ],
      [reduce, bind(reduce, [step, partials, out]), () => h.headCount],
    ],
  ]);
  const subgroups = deviceSubgroups(gpu);
  const lanes = subgroupAttentionLanes(h, subgroups.enabled, subgroups.min, subgroups.max);
  const grouped = lanes && subgroupDecodeAttentionKernel(h, 0, attentionSplit(CONTEXT), lanes);
  if (grouped) {
    const kernel = await cache.get(grouped);
    contenders.push([
      'subgroup + reduce',
      [
        [
          kernel,
          bind(kernel, [step, qkv, kcache, vcache, partials]),
          (pos) => subgroupDecodeWorkgroups(h, 1, splits(pos))[0],
        ],
        [reduce, bind(reduce, [step, partials, out]), () => h.headCount],
      ],
    ]);
  }
  if (args.values.baseline) {
    const code = baselineCode(args.values.baseline, h);
    const old = await cache.get(sourceVariant(`baseline ${args.values.baseline}`, code));
    contenders.unshift([
      `${args.values.baseline}`,
      [[old, bind(old, [step, qkv, kcache, vcache, out]), () => h.headCount]],
    ]);
  }
  const token = async (dispatches: Dispatch[], pos: number): Promise<number> => {
    gpu.queue.writeBuffer(step, 0, packStruct(STEP, { ntok: 1, pos0: pos }));
    await gpu.queue.onSubmittedWorkDone();
    const start = performance.now();
    const encoder = gpu.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (let layer = 0; layer < LAYERS; layer++) {
      for (const [k, group, x] of dispatches) {
        pass.setPipeline(k.pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(x(pos), 1, 1);
      }
    }
    pass.end();
    gpu.queue.submit([encoder.finish()]);
    await gpu.queue.onSubmittedWorkDone();
    return performance.now() - start;
  };
  console.log(
    `decode attention, ${h.name}, ${LAYERS} layers, on ${adapter} (${rounds} rounds, medians)`,
  );
  const times = new Map<string, number[]>();
  for (const [name, dispatches] of contenders) {
    for (const pos of POSITIONS) await token(dispatches, pos);
    for (const pos of POSITIONS) times.set(`${name}@${pos}`, []);
  }
  for (let r = 0; r < rounds; r++) {
    for (const pos of POSITIONS) {
      for (const [name, dispatches] of contenders) {
        times.get(`${name}@${pos}`)!.push(await token(dispatches, pos));
      }
    }
  }
  const rows = POSITIONS.map((pos) => {
    const cells = contenders.map(([name]) => median(times.get(`${name}@${pos}`)!));
    const ratio = cells.length === 2 ? ` | ${(cells[0] / cells[1]).toFixed(2)}x` : '';
    return `| ${pos} | ${cells.map((ms) => ms.toFixed(2)).join(' | ')}${ratio} |`;
  });
  const names = contenders.map(([name]) => `${name} ms/token`);
  console.log(`| position | ${names.join(' | ')}${contenders.length === 2 ? ' | speed-up' : ''} |`);
  console.log(`|---|${names.map(() => '---|').join('')}${contenders.length > 1 ? '---|' : ''}`);
  for (const row of rows) console.log(row);
  gpu.destroy();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
