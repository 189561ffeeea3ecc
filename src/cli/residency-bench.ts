// Residency benchmarks: the figures the planner predicts decode speed from, measured on the device
// in the same run (upload bandwidth with writes the size of a streamed layer, the submission round
// trip, and the engine's own weight read rate from a fully resident decode), then for each resident
// layer count the planner's prediction with those figures beside the measured decode speed.
import { describeAdapter, planModel } from '../plan';
import type { DeviceDescription, DeviceFigures, Plan, PlanWishes } from '../plan';
import { classifyAdapter, adapterName } from '../gpu/probe';
import { measureRoundTrip } from '../gpu/calibrate';
import type { EngineDevice } from '../gpu/device';
import { GgufEngine } from '../engine/gguf/engine';
import { GREEDY } from '../engine/engine';
import type { ModelHeader, ModelSource } from '../engine/gguf/types';
import { checkSupported, parseHeader } from '../engine/gguf/header';
import {
  CliUsageError,
  numberFlag,
  openCliDevice,
  precisionChoice,
  type CliArgs,
} from './engine-cli';

const MiB = 2 ** 20;
const DEFAULT_BENCH_CONTEXT = 4096;

/** A device as the planner sees it, from what dawn.node (or the browser) reports of its adapter. */
export function describeEngineDevice(
  device: EngineDevice,
  figures: DeviceFigures = {},
  suffix = '',
): DeviceDescription {
  const info = device.adapterInfo as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const identity = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: info.isFallbackAdapter === true,
    subgroupMinSize: null,
    subgroupMaxSize: null,
  };
  return describeAdapter(
    {
      name: `${adapterName(identity)}${suffix}`,
      adapterClass: classifyAdapter(identity).class,
      limits: {
        maxStorageBufferBindingSize: device.device.limits.maxStorageBufferBindingSize,
        maxBufferSize: device.device.limits.maxBufferSize,
      },
      features: [...device.features],
    },
    figures,
  );
}

/** Bytes per second of `queue.writeBuffer` with writes of `writeBytes`, until the GPU has them. */
export async function measureUploadBandwidth(
  device: GPUDevice,
  writeBytes: number,
): Promise<number> {
  const size = Math.max(4, Math.ceil(writeBytes / 4) * 4);
  const target = device.createBuffer({
    label: 'upload probe',
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  try {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i += 4096) data[i] = i & 0xff;
    device.queue.writeBuffer(target, 0, data);
    await device.queue.onSubmittedWorkDone();
    const writes = Math.max(4, Math.ceil((32 * MiB) / size));
    const start = performance.now();
    for (let i = 0; i < writes; i++) device.queue.writeBuffer(target, 0, data);
    await device.queue.onSubmittedWorkDone();
    return (writes * size) / Math.max((performance.now() - start) / 1000, 1e-6);
  } finally {
    target.destroy();
  }
}

export interface DecodeMeasurement {
  plan: Plan;
  engine: GgufEngine;
  tokensPerSecond: number;
  uploadBytesPerToken: number;
  submissionsPerToken: number;
}

export interface BenchSetup {
  device: EngineDevice;
  source: ModelSource;
  header: ModelHeader;
  /** Context, compute and weight wishes; the resident layer count is set per run. */
  wishes: PlanWishes;
  promptLength: number;
  decodeTokens: number;
  lanesPerRow?: number;
}

function benchPrompt(vocab: number, length: number): number[] {
  return Array.from({ length }, (_, i) => (i * 7919 + 13) % vocab);
}

/** Plans with `figures` and `resident` layers, loads, decodes greedily; the engine stays loaded. */
export async function measureDecode(
  setup: BenchSetup,
  figures: DeviceFigures,
  resident: number | undefined,
): Promise<DecodeMeasurement> {
  const description = describeEngineDevice(setup.device, figures);
  const plan = planModel(setup.header, [description], {
    ...setup.wishes,
    residentLayers: resident,
    decodePosition: setup.promptLength + Math.floor(setup.decodeTokens / 2),
  });
  if (plan.fits === 'none') throw new Error(`no plan runs this model: ${plan.reasons.join(' ')}`);
  const engine = await GgufEngine.loadPlanned([setup.device], setup.source, setup.header, plan, {
    lanesPerRow: setup.lanesPerRow,
  });
  const prompt = benchPrompt(engine.model.outputRows, setup.promptLength);
  for await (const token of engine.generateTokens(prompt, {
    maxTokens: setup.decodeTokens + 1,
    sampling: GREEDY,
  })) {
    void token;
  }
  const stats = engine.lastStats!;
  return {
    plan,
    engine,
    tokensPerSecond: stats.decodeTokensPerSecond,
    uploadBytesPerToken: stats.uploadBytesPerToken,
    submissionsPerToken: stats.submissionsPerToken,
  };
}

export interface Calibration extends DeviceFigures {
  uploadBytesPerSecond: number;
  computeBytesPerSecond: number;
  roundTripSeconds: number;
}

/**
 * The figures, measured now: upload bandwidth with writes of the largest layer, the round trip,
 * and the weight read rate that makes the planner's compute time match a fully resident decode.
 */
export async function calibrateEngine(setup: BenchSetup): Promise<Calibration> {
  const probe = describeEngineDevice(setup.device);
  const layerBytes = planModel(setup.header, [probe], { ...setup.wishes, residentLayers: 0 }).layers
    .devices[0].hostWeights;
  const layers = setup.header.hparams.blockCount;
  const device = setup.device.device;
  const uploadBytesPerSecond = await measureUploadBandwidth(device, layerBytes / layers);
  const roundTripSeconds = await measureRoundTrip(device);
  const assumedRate = probe.computeRate.value;
  const full = await measureDecode(
    setup,
    { uploadBytesPerSecond, roundTripSeconds, computeBytesPerSecond: assumedRate },
    layers,
  );
  await full.engine.unload();
  const bytesPerToken = full.plan.predicted.computeSeconds * assumedRate;
  const computeSeconds = Math.max(1 / full.tokensPerSecond - roundTripSeconds, 1e-9);
  return {
    uploadBytesPerSecond,
    roundTripSeconds,
    computeBytesPerSecond: bytesPerToken / computeSeconds,
  };
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(2)} MiB`;
}

/**
 * The bench table for `--resident-layers N`: calibration figures measured now, then the run with
 * N layers resident: streamed bytes per token and the predicted beside the measured decode speed.
 */
export async function residencyBenchRows(
  setup: BenchSetup,
  resident: number,
): Promise<[string, string][]> {
  const calibration = await calibrateEngine(setup);
  const run = await measureDecode(setup, calibration, resident);
  const { plan, engine } = run;
  const stats = engine.lastStats!;
  const allocated = engine.planned!.allocated()[0];
  await engine.unload();
  const predicted = plan.predicted.decodeTokensPerSecond;
  const off = (run.tokensPerSecond - predicted) / predicted;
  return [
    ['device', plan.layers.devices[0].name],
    ['resident layers', `${plan.layers.resident} of ${plan.layers.total} (${plan.fits})`],
    ['weights', plan.precision.weights === 'q8_0' ? 'INT8 (Q8_0, quantized on load)' : 'file'],
    ['load', `${engine.loadMs.toFixed(0)} ms`],
    ['prefill', `${stats.prefillTokensPerSecond.toFixed(2)} tok/s (${setup.promptLength} tokens)`],
    ['upload bandwidth', `${(calibration.uploadBytesPerSecond / 1e9).toFixed(3)} GB/s (measured)`],
    [
      'weight read rate',
      `${(calibration.computeBytesPerSecond / 1e9).toFixed(4)} GB/s (fully resident decode)`,
    ],
    ['round trip', `${(calibration.roundTripSeconds * 1000).toFixed(2)} ms (measured)`],
    [
      'streamed per token',
      `${mib(run.uploadBytesPerToken)} in ${run.submissionsPerToken} submissions ` +
        `(planned ${mib(plan.predicted.streamedBytesPerToken)})`,
    ],
    [
      'GPU bytes',
      `${mib(allocated.total)} allocated, ${mib(plan.bytes.gpu.total)} planned ` +
        `(weights ${mib(allocated.weights)}, kv ${mib(allocated.kv)}, scratch ` +
        `${mib(allocated.scratch)}, slots ${mib(allocated.slots)})`,
    ],
    [
      'decode',
      `${run.tokensPerSecond.toFixed(3)} tok/s measured, ${predicted.toFixed(3)} tok/s predicted ` +
        `(${off >= 0 ? '+' : ''}${(off * 100).toFixed(1)}%, ${plan.predicted.bound}-bound)`,
    ],
  ];
}

/** `npm run bench -- --model PATH --resident-layers N [--weights file|q8_0]`: prints the table. */
export async function printResidencyBench(source: ModelSource, args: CliArgs): Promise<void> {
  const weights = args.values.weights ?? 'file';
  if (weights !== 'file' && weights !== 'q8_0') {
    throw new CliUsageError(`--weights must be file or q8_0, not "${weights}"`);
  }
  const header = await parseHeader(source);
  checkSupported(header);
  const resident = numberFlag(args, 'resident-layers', 0);
  const layers = header.hparams.blockCount;
  if (!Number.isInteger(resident) || resident < 0 || resident > layers) {
    throw new CliUsageError(`--resident-layers must be a whole number from 0 to ${layers}`);
  }
  const device = await openCliDevice(args);
  const context = Math.min(header.hparams.contextLength, DEFAULT_BENCH_CONTEXT);
  const rows = await residencyBenchRows(
    {
      device,
      source,
      header,
      wishes: {
        contextTokens: numberFlag(args, 'context', context),
        compute: precisionChoice(args),
        weights,
      },
      promptLength: numberFlag(args, 'prompt-length', 16),
      decodeTokens: numberFlag(args, 'tokens', 16),
    },
    resident,
  );
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n');
}
