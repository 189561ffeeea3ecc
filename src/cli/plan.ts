// `npm run --silent plan -- --model PATH_OR_URL [--device FILE.json | --budget-mb N] [--context N]
//  [--f16 on|off] [--cpu FILE.json] [--engine auto|gpu|cpu] --json`: plans a model from its header
// alone (a header-only file works; for a URL only the header's byte ranges are requested).
// Without --device it plans for this machine's WebGPU adapter through dawn.node. For two GPUs,
// --device takes two files separated by a comma (and --budget-mb one figure for both, or two
// separated by a comma). The engine choice weighs the GPU plan against the CPU engine on --cpu's
// description, or on this machine's CPU (a short read-rate calibration) without it.
import { readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { parseHeader } from '../engine/gguf/header.ts';
import { openUrlSource } from '../engine/gguf/source.ts';
import { openFileSource } from '../engine/gguf/source-node.ts';
import type { ModelHeader } from '../engine/gguf/types.ts';
import { mib } from '../plan/accounting.ts';
import { DEFAULT_MARGIN, NO_MARGIN } from '../plan/budget.ts';
import { planJson } from '../plan/contract.ts';
import { describeAdapter, parseDeviceFile, withUserBudget } from '../plan/device.ts';
import { planModel } from '../plan/planner.ts';
import { chooseEngine, parseCpuFile, withEngineChoice, type CpuDescription } from '../plan/cpu.ts';
import { describeCpu, measureReadRate } from '../engine/cpu-probe.ts';
import type { DeviceDescription, PlanWishes } from '../plan/types.ts';
import { CliUsageError, parseCliArgs, printJson, requireValue } from './args.ts';

const USAGE =
  'usage: npm run --silent plan -- --model PATH_OR_URL [--device FILE.json[,FILE2.json] | ' +
  '--budget-mb N[,N2]] [--context N] [--f16 on|off] [--weights auto|file|q8_0] ' +
  '[--cpu FILE.json] [--engine auto|gpu|cpu] --json';

function positiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new CliUsageError(`${flag} needs a positive whole number, got "${value}".`);
  return n;
}

async function readModelHeader(model: string): Promise<ModelHeader> {
  if (/^https?:\/\//i.test(model)) {
    return parseHeader(await openUrlSource(model), { allowMissingData: true });
  }
  const source = await openFileSource(model).catch((err: Error) => {
    throw new CliUsageError(`Cannot open the model file ${model}: ${err.message}`);
  });
  try {
    return await parseHeader(source, { allowMissingData: true });
  } finally {
    await source.close();
  }
}

async function thisMachine(): Promise<DeviceDescription> {
  const { nodeGpu } = await import('../gpu/node-gpu.ts');
  const { probeGpu } = await import('../gpu/probe.ts');
  const deviceMemory = Math.round(totalmem() / 2 ** 30);
  const result = await probeGpu({ gpu: nodeGpu(), deviceMemory });
  if (result.status !== 'ok') {
    throw new CliUsageError(
      `${result.message} Pass --device FILE.json (see devices/README.md) to plan for another GPU.`,
    );
  }
  const a = result.adapters[0];
  return describeAdapter(
    {
      name: a.info.description || a.info.device || a.info.vendor || 'this GPU',
      adapterClass: a.class,
      limits: a.limits,
      features: a.features,
    },
    { deviceMemoryGiB: deviceMemory },
  );
}

async function devicesFrom(files: string[], budgetsMb: number[]): Promise<DeviceDescription[]> {
  const devices = files.length
    ? await Promise.all(
        files.map(async (file) => {
          let json: unknown;
          try {
            json = JSON.parse(await readFile(file, 'utf8'));
          } catch (err) {
            throw new CliUsageError(`Cannot read device file ${file}: ${(err as Error).message}`);
          }
          return parseDeviceFile(json, file);
        }),
      )
    : [await thisMachine()];
  if (budgetsMb.length > 1 && budgetsMb.length !== devices.length) {
    throw new CliUsageError(
      `${budgetsMb.length} --budget-mb values for ${devices.length} device(s): give one, or one per device.`,
    );
  }
  return devices.map((d, i) => {
    const mb = budgetsMb.length ? budgetsMb[Math.min(i, budgetsMb.length - 1)] : undefined;
    return mb === undefined ? d : withUserBudget(d, mb * 2 ** 20);
  });
}

/** The CPU from a description file, or this machine's, as the app would see it when isolated. */
async function cpuFrom(file: string | undefined): Promise<CpuDescription> {
  if (file === undefined) {
    const { availableParallelism } = await import('node:os');
    return describeCpu(
      {
        logicalCores: availableParallelism(),
        isolated: true,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
      },
      measureReadRate(),
    );
  }
  try {
    return parseCpuFile(JSON.parse(await readFile(file, 'utf8')), file);
  } catch (err) {
    throw new CliUsageError(`Cannot read CPU file ${file}: ${(err as Error).message}`);
  }
}

function list(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(',').filter((part) => part !== '');
}

async function main(): Promise<void> {
  const args = parseCliArgs(process.argv.slice(2), USAGE, {
    flags: ['json'],
    values: ['model', 'device', 'budget-mb', 'context', 'f16', 'weights', 'cpu', 'engine'],
  });
  const model = requireValue(args, 'model', USAGE);
  const f16 = args.values.f16;
  if (f16 !== undefined && f16 !== 'on' && f16 !== 'off') {
    throw new CliUsageError(`--f16 takes on or off, got "${f16}".`);
  }
  const weights = args.values.weights ?? 'auto';
  if (weights !== 'auto' && weights !== 'file' && weights !== 'q8_0') {
    throw new CliUsageError(`--weights takes auto, file or q8_0, got "${weights}".`);
  }
  const engine = args.values.engine ?? 'auto';
  if (engine !== 'auto' && engine !== 'gpu' && engine !== 'cpu') {
    throw new CliUsageError(`--engine takes auto, gpu or cpu, got "${engine}".`);
  }
  const deviceFiles = list(args.values.device);
  if (deviceFiles.length > 2) throw new CliUsageError('At most two device files (two GPUs).');
  const budgetsMb = list(args.values['budget-mb']).map((v) => positiveInt(v, '--budget-mb')!);
  const wishes: PlanWishes = {
    contextTokens: positiveInt(args.values.context, '--context'),
    compute: f16 === 'on' ? 'f16' : f16 === 'off' ? 'f32' : 'auto',
    weights,
    margin: budgetsMb.length ? NO_MARGIN : DEFAULT_MARGIN,
  };
  const header = await readModelHeader(model);
  const devices = await devicesFrom(deviceFiles, budgetsMb);
  const gpuPlan = planModel(header, devices, wishes);
  const choice = chooseEngine({
    header,
    gpuPlan,
    adapterClass: devices[0].adapterClass,
    cpu: await cpuFrom(args.values.cpu),
    override: engine,
  });
  const plan = withEngineChoice(gpuPlan, choice);
  if (args.flags.has('json')) {
    await printJson(planJson(plan));
    return;
  }
  const lines = [
    `${header.hparams.name}: ${plan.fits === 'full' ? 'runs fully on the GPU' : plan.fits === 'partial' ? `runs with ${plan.layers.resident} of ${plan.layers.total} layers on the GPU` : 'will not run'}`,
    ...plan.reasons.map((r) => `- ${r}`),
    ...plan.layers.devices.map((d) => {
      const b = d.bytes;
      return `GPU ${d.name}: layers ${d.layers[0]}-${d.layers[1]}, weights ${mib(b.weights)} + KV ${mib(b.kv)} + scratch ${mib(b.scratch)} + slots ${mib(b.slots)} = ${mib(b.total)} of ${mib(d.budget.usableBytes)} usable; host ${mib(d.hostWeights)}`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

// Exits explicitly: a Dawn instance opened to probe this machine would keep the process alive.
main().then(
  () => process.exit(0),
  (err: unknown) => {
    const usage = err instanceof CliUsageError;
    process.stderr.write(`plan: ${err instanceof Error ? err.message : String(err)}\n`);
    if (usage && !(err as Error).message.includes(USAGE)) process.stderr.write(`${USAGE}\n`);
    process.exit(usage ? 2 : 1);
  },
);
