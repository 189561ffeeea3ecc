// npm run --silent infer -- --model PATH [--prompt TEXT | --prompt-tokens 1,2,3] [--chat]
//   [--max-tokens N] [--greedy | --temperature T --top-k K --top-p P --seed S] [--logits K]
//   [--f16 auto|on|off] [--adapter swiftshader|lavapipe] [--context N]
//   [--resident-layers N] [--devices 1|2] [--weights file|q8_0] --json
// Runs the GGUF engine on dawn.node as the planner plans it and prints one JSON object (see
// README for the fields), with the plan and the bytes each device's allocator counted.
import { openFileSource } from '../engine/gguf/source-node';
import { GREEDY, type SamplingOptions } from '../engine/engine';
import type { TokenLogit } from '../engine/gguf/generate';
import { parseCliArgs, CliUsageError, numberFlag, printJson, tokenIdsFlag } from './args';
import { loadPlannedCliEngine, planReport, RESIDENCY_FLAGS, RESIDENCY_USAGE } from './planned-cli';

const USAGE =
  'usage: npm run --silent infer -- --model PATH [--prompt TEXT | --prompt-tokens 1,2,3] [--chat] ' +
  '[--max-tokens N] [--greedy | --temperature T --top-k K --top-p P --seed S] [--logits K] ' +
  '[--f16 auto|on|off] [--adapter swiftshader|lavapipe] [--context N] ' +
  `${RESIDENCY_USAGE} --json`;

async function main(): Promise<void> {
  const args = parseCliArgs(process.argv.slice(2), USAGE, {
    flags: ['chat', 'greedy', 'json'],
    values: [
      'model',
      'prompt',
      'prompt-tokens',
      'max-tokens',
      'temperature',
      'top-k',
      'top-p',
      'min-p',
      'repeat-penalty',
      'seed',
      'logits',
      'f16',
      'adapter',
      'context',
      'binding-cap',
      ...RESIDENCY_FLAGS,
    ],
  });
  if (!args.values.model) throw new CliUsageError(`--model is required\n${USAGE}`);
  if (args.values.prompt === undefined && args.values['prompt-tokens'] === undefined) {
    throw new CliUsageError(`give --prompt TEXT or --prompt-tokens 1,2,3\n${USAGE}`);
  }
  const temperature = numberFlag(args, 'temperature', 0);
  const sampling: SamplingOptions =
    args.flags.has('greedy') || temperature <= 0
      ? { ...GREEDY, repetitionPenalty: numberFlag(args, 'repeat-penalty', 1) }
      : {
          temperature,
          topK: numberFlag(args, 'top-k', 40),
          topP: numberFlag(args, 'top-p', 0.95),
          minP: numberFlag(args, 'min-p', 0.05),
          repetitionPenalty: numberFlag(args, 'repeat-penalty', 1),
          repetitionLastN: 64,
          seed: numberFlag(args, 'seed', 0),
        };
  const source = await openFileSource(args.values.model);
  try {
    const loaded = await loadPlannedCliEngine(source, args);
    const { engine } = loaded;
    let promptTokens: number[];
    if (args.values['prompt-tokens'] !== undefined) {
      promptTokens = tokenIdsFlag(args, 'prompt-tokens', engine.header.hparams.vocabSize);
    } else if (args.flags.has('chat')) {
      promptTokens = engine.encodeChat([{ role: 'user', content: args.values.prompt! }]);
    } else {
      promptTokens = engine.encodePrompt(args.values.prompt!);
    }
    const logitsK = numberFlag(args, 'logits', 0);
    const tokens: number[] = [];
    const topLogits: TokenLogit[][] = [];
    for await (const t of engine.generateTokens(promptTokens, {
      maxTokens: numberFlag(args, 'max-tokens', 64),
      sampling,
      stopTokens: engine.endOfGeneration,
      topLogits: logitsK,
    })) {
      tokens.push(t.id);
      if (t.topLogits) topLogits.push(t.topLogits);
    }
    const stats = engine.lastStats!;
    const out: Record<string, unknown> = {
      promptTokens,
      tokens,
      text: engine.hasCodec ? engine.decode(tokens) : '',
    };
    if (logitsK > 0) out.topLogits = topLogits;
    out.stats = {
      loadMs: Math.round(engine.loadMs),
      prefillTokensPerSecond: stats.prefillTokensPerSecond,
      decodeTokensPerSecond: stats.decodeTokensPerSecond,
      weightBytesPerToken: stats.weightBytesPerToken,
      dispatchesPerToken: stats.dispatchesPerToken,
      submissionsPerToken: stats.submissionsPerToken,
      kvBytesPerToken: stats.kvBytesPerToken,
    };
    const report = planReport(loaded);
    out.plan = report.plan;
    out.allocated = report.allocated;
    await printJson(out);
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
