// The command line of `npm run bench:compare`: which models, contenders, prompt lengths, decoded
// tokens and repeats, with `--quick` for a short run. Pure: argv in, options out.
import { parseCliArgs, CliUsageError } from '../../../src/cli/args.ts';

/** Our engine on a dawn.node adapter; `gpu` is Dawn's default adapter (a real card's driver). */
export type EngineAdapter = 'lavapipe' | 'swiftshader' | 'gpu';

export type ContenderSpec =
  | { kind: 'engine'; id: string; adapter: EngineAdapter; precision: 'f32' | 'f16' }
  | { kind: 'llama.cpp'; id: string; threads: number }
  | { kind: 'wllama'; id: string; threads: number };

export interface CompareOptions {
  models: string[];
  contenders: ContenderSpec[];
  prompts: number[];
  decode: number;
  repeats: number;
  /** Per-kernel profile of our engine's decode token. */
  profile: boolean;
  json: boolean;
  /** A contender whose run takes longer is not run again (keeps a loaded machine's run bounded). */
  maxRunSeconds: number;
}

export const DEFAULT_MODELS = ['smollm2-135m-q8_0', 'smollm2-135m-q4_k_m', 'qwen2.5-0.5b-q4_k_m'];
export const DEFAULT_CONTENDERS = [
  'lavapipe-f32',
  'lavapipe-f16',
  'swiftshader-f32',
  'llama.cpp-1t',
  'llama.cpp-2t',
  'wllama-1t',
  'wllama-2t',
];

const QUICK = {
  models: ['smollm2-135m-q8_0'],
  contenders: ['lavapipe-f32', 'llama.cpp-1t', 'wllama-2t'],
  prompts: [16, 128],
  decode: 16,
  repeats: 1,
};

export const COMPARE_USAGE =
  'usage: npm run bench:compare -- [--quick] [--models ID,...] [--contenders ID,...] ' +
  '[--prompts N,...] [--decode N] [--repeats N] [--max-run-seconds S] [--no-profile] [--json]\n' +
  `  models: ${DEFAULT_MODELS.join(', ')}\n` +
  "  contenders: lavapipe-f32|f16, swiftshader-f32, gpu-f32|f16 (Dawn's default adapter), " +
  'llama.cpp-<N>t, wllama-<N>t (N threads)\n' +
  `  defaults: every model and ${DEFAULT_CONTENDERS.join(', ')}; prompts 16,128,512; ` +
  'decode 64; repeats 3\n' +
  `  --quick: ${QUICK.models.join(',')}, ${QUICK.contenders.join(',')}, prompts ` +
  `${QUICK.prompts.join(',')}, decode ${QUICK.decode}, repeats ${QUICK.repeats} (each overridable)`;

export function parseContender(id: string): ContenderSpec {
  const engine = /^(lavapipe|swiftshader|gpu)-(f32|f16)$/.exec(id);
  if (engine) {
    const adapter = engine[1] as EngineAdapter;
    const precision = engine[2] as 'f32' | 'f16';
    if (adapter === 'swiftshader' && precision === 'f16') {
      throw new CliUsageError(
        'swiftshader-f16: SwiftShader has no shader-f16; use swiftshader-f32',
      );
    }
    return { kind: 'engine', id, adapter, precision };
  }
  const threaded = /^(llama\.cpp|wllama)-(\d+)t$/.exec(id);
  if (threaded && Number(threaded[2]) >= 1) {
    return { kind: threaded[1] as 'llama.cpp' | 'wllama', id, threads: Number(threaded[2]) };
  }
  throw new CliUsageError(`unknown contender "${id}"\n${COMPARE_USAGE}`);
}

function list(text: string | undefined, fallback: string[]): string[] {
  if (text === undefined) return fallback;
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!items.length) throw new CliUsageError(`an empty list\n${COMPARE_USAGE}`);
  return items;
}

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < 1) {
    throw new CliUsageError(`--${name}: "${text}" is not a whole number of at least 1`);
  }
  return value;
}

export function parseCompareArgs(argv: string[], knownModels: string[]): CompareOptions {
  const args = parseCliArgs(argv, COMPARE_USAGE, {
    flags: ['quick', 'no-profile', 'json'],
    values: ['models', 'contenders', 'prompts', 'decode', 'repeats', 'max-run-seconds'],
  });
  const quick = args.flags.has('quick');
  const v = args.values;
  const models = list(v.models, quick ? QUICK.models : DEFAULT_MODELS);
  for (const m of models) {
    if (!knownModels.includes(m)) {
      throw new CliUsageError(`unknown model "${m}"; known: ${knownModels.join(', ')}`);
    }
  }
  const contenderIds = list(v.contenders, quick ? QUICK.contenders : DEFAULT_CONTENDERS);
  if (new Set(contenderIds).size !== contenderIds.length) {
    throw new CliUsageError(`a contender is named twice in "${contenderIds.join(',')}"`);
  }
  const prompts =
    v.prompts === undefined
      ? quick
        ? QUICK.prompts
        : [16, 128, 512]
      : list(v.prompts, []).map((p) => positive('prompts', p));
  return {
    models,
    contenders: contenderIds.map(parseContender),
    prompts,
    decode: v.decode === undefined ? (quick ? QUICK.decode : 64) : positive('decode', v.decode),
    repeats: v.repeats === undefined ? (quick ? QUICK.repeats : 3) : positive('repeats', v.repeats),
    maxRunSeconds:
      v['max-run-seconds'] === undefined
        ? Infinity
        : positive('max-run-seconds', v['max-run-seconds']),
    profile: !args.flags.has('no-profile'),
    json: args.flags.has('json'),
  };
}
