// `npm run bench:prefill [-- --adapter lavapipe|swiftshader] [--prompts 128,512] [--rounds N]
//   [--tokens N] [--f16] [--profile]`: prefill and decode tok/s of the GGUF engine on dawn.node, the tiled
// prefill kernels the adapter gets by default (prefill-kernels.ts) and the GPUs' (staged GEMM,
// flash-style attention) beside the decode kernels run over the same passes, on a random
// model in SmolLM2-135M's shape at Q8_0. The engines are loaded once and run
// in interleaved rounds, so load on the machine slows them alike; medians are printed, by wall
// clock and by the process's CPU time (lavapipe runs on the process's own threads, so on a machine
// shared with other work CPU time is the steadier measure). `--profile` adds a per-kernel time
// profile of the first prompt's prefill (test/bench/compare/profile.ts). A benchmark, not a test:
// nothing is asserted.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildFixture } from '../fixtures/gguf/models.ts';
import { writeGguf } from '../fixtures/gguf/writer.ts';
import { checkSupported, parseHeader } from '../../src/engine/gguf/header.ts';
import { openFileSource } from '../../src/engine/gguf/source-node.ts';
import { GgufModel } from '../../src/engine/gguf/model.ts';
import { TokenGenerator, type DecodeStats } from '../../src/engine/gguf/generate.ts';
import { GREEDY } from '../../src/engine/engine.ts';
import { requestNodeAdapter, type NodeAdapterName } from '../../src/gpu/node-gpu.ts';
import { openEngineDevice } from '../../src/gpu/device.ts';
import { SMOLLM2_135M_SHAPE } from './smollm2-shape.ts';
import { DECODE_KERNELS_PREFILL, GPU_PREFILL } from '../../src/engine/gguf/prefill-kernels.ts';
import { profileDispatches, recordDevice } from './compare/profile.ts';
import { median } from './compare/stats.ts';

const { values } = parseArgs({
  options: {
    adapter: { type: 'string', default: 'lavapipe' },
    prompts: { type: 'string', default: '128,512' },
    rounds: { type: 'string', default: '3' },
    tokens: { type: 'string', default: '8' },
    f16: { type: 'boolean', default: false },
    'baseline-prompt': { type: 'string', default: '128' },
    profile: { type: 'boolean', default: false },
  },
});
const prompts = values.prompts.split(',').map(Number);
const baselinePrompt = Number(values['baseline-prompt']);
const rounds = Number(values.rounds);
const decodeTokens = Number(values.tokens);

function modelPath(): string {
  const dir = resolve(import.meta.dirname, '../.cache/bench');
  const path = join(dir, `${SMOLLM2_135M_SHAPE.id}.gguf`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const built = buildFixture(SMOLLM2_135M_SHAPE);
    writeFileSync(path, writeGguf(built.metadata, built.tensors, built.options).bytes);
  }
  return path;
}

const adapter = await requestNodeAdapter(values.adapter as NodeAdapterName);
const { device, adapterInfo } = await openEngineDevice(adapter, { disableF16: !values.f16 });
const source = await openFileSource(modelPath());
const header = await parseHeader(source);
checkSupported(header);
const context = Math.max(...prompts) + decodeTokens + 1;
const variants = [
  ['adapter default', undefined],
  ["GPUs' (staged GEMM, tiled attention)", GPU_PREFILL],
  ['decode kernels', DECODE_KERNELS_PREFILL],
] as const;
const models = new Map<string, GgufModel>();
for (const [name, prefill] of variants) {
  models.set(
    name,
    await GgufModel.load(device, source, header, {
      contextTokens: context,
      computePrecision: values.f16 ? 'f16' : 'f32',
      lanesPerRow: 1,
      prefill,
    }),
  );
}
await source.close();

async function run(model: GgufModel, promptLength: number, maxTokens: number) {
  const vocab = model.outputRows;
  const prompt = Array.from({ length: promptLength }, (_, i) => (i * 7919 + 13) % vocab);
  let stats: DecodeStats | undefined;
  const generator = new TokenGenerator(model);
  const cpu = process.cpuUsage();
  for await (const token of generator.generate(prompt, { maxTokens, sampling: GREEDY }, (s) => {
    stats = s;
  })) {
    void token;
  }
  const used = process.cpuUsage(cpu);
  return { stats: stats!, cpuSeconds: (used.user + used.system) / 1e6 };
}

// Warm-up: some drivers (lavapipe) compile each pipeline at its first dispatch.
for (const model of models.values()) await run(model, 2, 2);

interface Result {
  prefill: number[];
  decode: number[];
  prefillCpu: number[];
  decodeCpu: number[];
}
const results = new Map<string, Result>();
for (let round = 0; round < rounds; round++) {
  for (const [name] of variants) {
    for (const length of name === 'adapter default' ? prompts : [baselinePrompt]) {
      const key = `${name}, ${length}-token prompt`;
      const model = models.get(name)!;
      // The prompt alone (one token sampled), then the prompt and the decoded tokens: the
      // difference in CPU time is the decode's.
      const prefill = await run(model, length, 1);
      const both = await run(model, length, decodeTokens + 1);
      const entry = results.get(key) ?? { prefill: [], decode: [], prefillCpu: [], decodeCpu: [] };
      entry.prefill.push(prefill.stats.prefillTokensPerSecond);
      entry.decode.push(both.stats.decodeTokensPerSecond);
      entry.prefillCpu.push(length / prefill.cpuSeconds);
      // Two runs' CPU times can differ by less than the decode's under noise: no figure then.
      const decodeCpuSeconds = both.cpuSeconds - prefill.cpuSeconds;
      if (decodeCpuSeconds > 0) entry.decodeCpu.push(decodeTokens / decodeCpuSeconds);
      results.set(key, entry);
      process.stderr.write(
        `round ${round + 1}: ${key}: prefill ${prefill.stats.prefillTokensPerSecond.toFixed(2)} ` +
          `tok/s, ${(length / prefill.cpuSeconds).toFixed(2)} tok per CPU second\n`,
      );
    }
  }
}

/** Median and (min-max) of the rounds' figures, or n/a where no round gave one. */
const summary = (xs: number[]) =>
  xs.length
    ? `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`
    : 'n/a';
console.log(
  `device: ${adapterInfo.vendor} ${adapterInfo.architecture} ${adapterInfo.device || adapterInfo.description}`,
);
console.log(
  `model: ${SMOLLM2_135M_SHAPE.id} (30 layers, 576 wide, Q8_0), ${values.f16 ? 'f16' : 'f32'} compute`,
);
console.log(
  `${rounds} interleaved rounds, ${decodeTokens} decoded tokens each; median (min-max) tok/s by ` +
    'wall clock, then tokens per CPU second of the process',
);
for (const [key, r] of results) {
  console.log(
    `${key.padEnd(40)} prefill ${summary(r.prefill)}  decode ${summary(r.decode)}` +
      `  | per CPU s: prefill ${summary(r.prefillCpu)}  decode ${summary(r.decodeCpu)}`,
  );
}
if (values.profile) {
  // Per kernel, the prefill of the first prompt length by the default tiled kernels.
  const model = models.get('adapter default')!;
  const recording = await recordDevice(device, async () => void (await run(model, prompts[0], 1)));
  const profile = await profileDispatches(device, recording.dispatches);
  console.log(
    `per-kernel time of a ${prompts[0]}-token prefill (${profile.method}): ${profile.totalMs.toFixed(1)} ms`,
  );
  for (const k of profile.kernels) {
    console.log(
      `${k.role.padEnd(28)} ${String(k.dispatches).padStart(4)} dispatches ${k.ms.toFixed(1).padStart(9)} ms ${(k.share * 100).toFixed(1).padStart(5)}%`,
    );
  }
}
for (const model of models.values()) model.destroy();
device.destroy();
process.exit(0);
