// Shared by the infer and bench entry points: flag parsing, opening a dawn.node adapter, and
// loading the GGUF engine with the model's tokenizer.
import { existsSync } from 'node:fs';
import { requestNodeAdapter, type NodeAdapterName } from '../gpu/node-gpu';
import { openEngineDevice, type EngineDevice } from '../gpu/device';
import { GgufEngine, type PrecisionChoice } from '../engine/gguf/engine';
import type { ModelSource } from '../engine/gguf/types';
import { textCodec } from '../engine/gguf/text-codec';

export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

export interface CliArgs {
  flags: Set<string>;
  values: Record<string, string | undefined>;
}

export function parseCliArgs(
  argv: string[],
  usage: string,
  known: { flags: string[]; values: string[] },
): CliArgs {
  const args: CliArgs = { flags: new Set(), values: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new CliUsageError(`unexpected argument "${arg}"\n${usage}`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (known.flags.includes(name)) {
      args.flags.add(name);
    } else if (known.values.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new CliUsageError(`--${name} needs a value\n${usage}`);
      args.values[name] = value;
    } else {
      throw new CliUsageError(`unknown option --${name}\n${usage}`);
    }
  }
  return args;
}

export function numberFlag(args: CliArgs, name: string, fallback: number): number {
  const text = args.values[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new CliUsageError(`--${name}: "${text}" is not a number`);
  return value;
}

const ICD_FILES = [
  '/usr/share/vulkan/icd.d/lvp_icd.json',
  '/usr/lib/chromium/vk_swiftshader_icd.json',
];

export async function openCliDevice(args: CliArgs): Promise<EngineDevice> {
  if (!process.env.VK_ICD_FILENAMES) {
    const present = ICD_FILES.filter((f) => existsSync(f));
    if (present.length) process.env.VK_ICD_FILENAMES = present.join(':');
  }
  const name = args.values.adapter;
  if (name !== undefined && name !== 'swiftshader' && name !== 'lavapipe') {
    throw new CliUsageError(`--adapter must be swiftshader or lavapipe, not "${name}"`);
  }
  const f16 = args.values.f16 ?? 'auto';
  if (!['auto', 'on', 'off'].includes(f16)) {
    throw new CliUsageError(`--f16 must be auto, on or off, not "${f16}"`);
  }
  const adapter = await requestNodeAdapter(name as NodeAdapterName | undefined);
  return openEngineDevice(adapter, { disableF16: f16 === 'off' });
}

export function precisionChoice(args: CliArgs): PrecisionChoice {
  const f16 = args.values.f16 ?? 'auto';
  return f16 === 'on' ? 'f16' : f16 === 'off' ? 'f32' : 'auto';
}

export async function loadCliEngine(
  source: ModelSource,
  args: CliArgs,
): Promise<{ engine: GgufEngine; device: EngineDevice }> {
  const device = await openCliDevice(args);
  const context = args.values.context;
  const engine = await GgufEngine.load(device, source, {
    precision: precisionChoice(args),
    codec: textCodec,
    contextTokens: context === undefined ? undefined : numberFlag(args, 'context', 0),
    lanesPerRow: args.values.lanes === undefined ? undefined : numberFlag(args, 'lanes', 1),
    maxBindingBytes:
      args.values['binding-cap'] === undefined ? undefined : numberFlag(args, 'binding-cap', 0),
  });
  return { engine, device };
}

export function printJson(value: unknown): Promise<void> {
  return new Promise((resolve, reject) =>
    process.stdout.write(`${JSON.stringify(value)}\n`, (error) =>
      error ? reject(error) : resolve(),
    ),
  );
}
