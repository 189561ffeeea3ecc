// `npm run bench:sampler -- [--adapter lavapipe|swiftshader] [--baseline REV] [--rounds N]`:
// milliseconds per sampled token of the GPU sampler at SmolLM2's (49152) and Qwen2.5's (151936)
// vocabularies, greedy and with llama.cpp's default chain (top-k 40, top-p 0.95, min-p 0.05,
// temperature 0.8), and with top-p alone (0.9). With --baseline, that git revision's sampler (a
// `$NAME`-substituted sample.wgsl in one workgroup) runs interleaved with the current one in the
// same process, so a busy machine slows both alike; figures go to docs/performance.md.
import { execFileSync } from 'node:child_process';
import { openEngineDevice } from '../../src/gpu/device';
import { requestNodeAdapter, type NodeAdapterName } from '../../src/gpu/node-gpu';
import { sampleStages } from '../../src/engine/gguf/kernels/sample';
import {
  HOST_STRUCTS_WGSL,
  packStruct,
  SAMPLING,
} from '../../src/engine/gguf/kernels/host-structs';
import { PipelineCache, sourceVariant, type Kernel } from '../../src/engine/gguf/kernels/pipeline';
import { HISTORY_RING, samplePartialWords } from '../../src/engine/gguf/buffer-plan';
import { parseCliArgs, numberFlag } from '../../src/cli/args';
import { useSoftwareIcds } from '../../src/cli/engine-cli';
import { median } from './compare/stats';

const VOCABULARIES = [49152, 151936];
const USAGE =
  'usage: npm run bench:sampler -- [--adapter lavapipe|swiftshader] [--baseline REV] [--rounds N]';

interface Setting {
  name: string;
  values: Partial<Record<(typeof SAMPLING.fields)[number][0], number>>;
}

const SETTINGS: Setting[] = [
  { name: 'greedy', values: { greedy: 1 } },
  {
    name: 'top-k 40, top-p 0.95, min-p 0.05',
    values: { top_k: 40, top_p: 0.95, min_p: 0.05, temperature: 0.8, penalty: 1 },
  },
  { name: 'top-p 0.9', values: { top_p: 0.9, temperature: 1, penalty: 1 } },
];

async function main(): Promise<void> {
  const args = parseCliArgs(process.argv.slice(2), USAGE, {
    flags: [],
    values: ['adapter', 'baseline', 'rounds'],
  });
  const adapter = (args.values.adapter ?? 'lavapipe') as NodeAdapterName;
  const rounds = numberFlag(args, 'rounds', 9);
  useSoftwareIcds();
  const device = await openEngineDevice(await requestNodeAdapter(adapter), { disableF16: true });
  const gpu = device.device;
  const cache = new PipelineCache(gpu);
  const storage = (bytes: number) =>
    gpu.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const params = gpu.createBuffer({
    size: SAMPLING.bytes,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  const baseline = args.values.baseline
    ? execFileSync('git', [
        'show',
        `${args.values.baseline}:src/engine/gguf/kernels/sample.wgsl`,
      ]).toString()
    : undefined;
  console.log(`GPU sampler on ${adapter} (${rounds} rounds, medians, ms per token)`);
  const header = ['vocabulary', 'setting', ...(baseline ? [args.values.baseline!] : []), 'current'];
  console.log(`| ${header.join(' | ')} |${baseline ? ' speed-up |' : ''}`);
  console.log(`|${header.map(() => '---|').join('')}${baseline ? '---|' : ''}`);
  for (const vocab of VOCABULARIES) {
    const logits = storage(vocab * 4);
    gpu.queue.writeBuffer(
      logits,
      0,
      Float32Array.from({ length: vocab }, () => Math.random() * 12 - 6),
    );
    const history = storage(HISTORY_RING * 4);
    const work = storage(vocab * 4);
    const partials = storage(samplePartialWords(vocab) * 4);
    const result = storage(4 * 129);
    const compile = (greedy: boolean) =>
      Promise.all(
        sampleStages(vocab, greedy).map(async (s) => {
          const kernel = await cache.get(s.variant);
          const slices = [params, logits, history, work, partials, result].map((buffer) => ({
            buffer,
          }));
          return { kernel, group: cache.bindGroup(kernel, slices), x: s.workgroups };
        }),
      );
    const stages = await compile(false);
    const greedyStages = await compile(true);
    let old: { kernel: Kernel; group: GPUBindGroup } | undefined;
    if (baseline) {
      const code = HOST_STRUCTS_WGSL + baseline.replaceAll('$V', String(vocab));
      const kernel = await cache.get(sourceVariant('baseline sample', code));
      const slices = [params, logits, history, work, result].map((buffer) => ({ buffer }));
      old = { kernel, group: cache.bindGroup(kernel, slices) };
    }
    const time = async (dispatches: { kernel: Kernel; group: GPUBindGroup; x: number }[]) => {
      await gpu.queue.onSubmittedWorkDone();
      const start = performance.now();
      const encoder = gpu.createCommandEncoder();
      const pass = encoder.beginComputePass();
      for (const d of dispatches) {
        pass.setPipeline(d.kernel.pipeline);
        pass.setBindGroup(0, d.group);
        pass.dispatchWorkgroups(d.x);
      }
      pass.end();
      gpu.queue.submit([encoder.finish()]);
      await gpu.queue.onSubmittedWorkDone();
      return performance.now() - start;
    };
    for (const setting of SETTINGS) {
      gpu.queue.writeBuffer(
        params,
        0,
        packStruct(SAMPLING, { top_p: 1, penalty: 1, uniform01: 0.37, ...setting.values }),
      );
      const current = setting.values.greedy ? greedyStages : stages;
      const contenders = old ? [[{ ...old, x: 1 }], current] : [current];
      const times = contenders.map(() => [] as number[]);
      for (const c of contenders) await time(c);
      for (let r = 0; r < rounds; r++) {
        for (const [i, c] of contenders.entries()) times[i].push(await time(c));
      }
      const ms = times.map(median);
      const ratio = ms.length > 1 ? ` ${(ms[0] / ms[1]).toFixed(1)}x |` : '';
      console.log(
        `| ${vocab} | ${setting.name} | ${ms.map((m) => m.toFixed(2)).join(' | ')} |${ratio}`,
      );
    }
  }
  gpu.destroy();
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
