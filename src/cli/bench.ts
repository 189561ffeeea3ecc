// npm run bench -- --model PATH [--adapter swiftshader|lavapipe] [--f16 auto|on|off]
//   [--prompt-length N] [--tokens N] [--context N] [--lanes N] [--resident-layers N [--weights file|q8_0]]
// (--lanes: threads per matmul row, forced; by default timed at load among the adapter's candidates)
// With --resident-layers: upload bandwidth, round trip and weight read rate measured first, then
// the streamed bytes per token and the planner's predicted against the measured decode speed.
// Loads the model on dawn.node, prefills a fixed prompt, decodes greedily, and prints a table of
// load time, prefill and decode tokens/s, weight bytes read per decode token against the model's
// weight bytes, dispatches and submissions per decode token, with the device named.
import { openFileSource } from '../engine/gguf/source-node';
import { GREEDY } from '../engine/engine';
import { loadPlannedCliEngine } from './planned-cli';
import { numberFlag, parseCliArgs, CliUsageError } from './args';
import { printResidencyBench } from './residency-bench';

const USAGE =
  'usage: npm run bench -- --model PATH [--adapter swiftshader|lavapipe] [--f16 auto|on|off] ' +
  '[--prompt-length N] [--tokens N] [--context N] [--lanes N] [--resident-layers N [--weights file|q8_0]]';

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}

async function main(): Promise<void> {
  const args = parseCliArgs(process.argv.slice(2), USAGE, {
    flags: [],
    values: [
      'model',
      'adapter',
      'f16',
      'prompt-length',
      'tokens',
      'context',
      'binding-cap',
      'resident-layers',
      'weights',
      'lanes',
    ],
  });
  if (!args.values.model) throw new CliUsageError(`--model is required\n${USAGE}`);
  const source = await openFileSource(args.values.model);
  try {
    if (args.values['resident-layers'] !== undefined) {
      await printResidencyBench(source, args);
      return;
    }
    const { engine, devices } = await loadPlannedCliEngine(source, args);
    const device = devices[0];
    const promptLength = numberFlag(args, 'prompt-length', 64);
    const decodeTokens = numberFlag(args, 'tokens', 32);
    const vocab = engine.model.outputRows;
    const prompt = Array.from({ length: promptLength }, (_, i) => (i * 7919 + 13) % vocab);
    // Warm-up: some drivers (lavapipe) compile each pipeline at its first dispatch.
    for await (const token of engine.generateTokens(prompt.slice(0, 2), {
      maxTokens: 2,
      sampling: GREEDY,
    })) {
      void token;
    }
    // Measure the whole prompt's prefill, not the part after the warm-up's cached tokens.
    engine.resetCache();
    let generated = 0;
    // CPU time of the whole process (the software adapters' threads run in it) from the first
    // token, which ends the prefill, to the last: what decode costs on a machine shared with
    // other work, where the clock also counts waiting for a core.
    let decodeCpu: NodeJS.CpuUsage | undefined;
    for await (const token of engine.generateTokens(prompt, {
      maxTokens: decodeTokens,
      sampling: GREEDY,
    })) {
      if (token.id >= 0) generated++;
      if (generated === 1) decodeCpu = process.cpuUsage();
    }
    const cpu = process.cpuUsage(decodeCpu);
    const cpuMsPerToken = (cpu.user + cpu.system) / 1000 / Math.max(generated - 1, 1);
    const stats = engine.lastStats!;
    const tensorBytes = engine.header.tensors.reduce((a, t) => a + t.bytes, 0);
    const embedding = engine.header.tensors.find((t) => t.name === 'token_embd.weight')?.bytes ?? 0;
    const info = device.adapterInfo;
    const rows: [string, string][] = [
      ['device', `${info.vendor} ${info.architecture} ${info.device || info.description}`.trim()],
      [
        'model',
        `${source.name} (${engine.header.hparams.architecture}, ${mib(tensorBytes)} of weights)`,
      ],
      ['compute precision', engine.precision],
      ['kernel variants', engine.kernelVariants],
      ['load', `${engine.loadMs.toFixed(0)} ms`],
      ['prefill', `${stats.prefillTokensPerSecond.toFixed(2)} tok/s (${promptLength} tokens)`],
      ['decode', `${stats.decodeTokensPerSecond.toFixed(2)} tok/s (${generated} tokens)`],
      ['decode CPU time', `${cpuMsPerToken.toFixed(1)} ms per token (all threads)`],
      [
        'weights read per token',
        `${mib(stats.weightBytesPerToken)} of ${mib(tensorBytes)} in the file ` +
          `(${mib(tensorBytes - embedding)} outside the token embedding)`,
      ],
      ['KV read per token', mib(stats.kvBytesPerToken)],
      [
        'dispatches per token',
        `${stats.dispatchesPerToken} (${engine.header.hparams.blockCount} layers)`,
      ],
      ['submissions per token', String(stats.submissionsPerToken)],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    process.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n');
    await engine.unload();
  } finally {
    await source.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof CliUsageError ? 2 : 1);
  },
);
