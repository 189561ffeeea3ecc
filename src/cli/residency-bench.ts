// Residency benchmarks: the figures the planner predicts decode speed from, measured on the device
// in the same run (upload bandwidth with writes the size of a streamed layer, the submission round
// trip, and the engine's own weight read rate from a fully resident decode), then for each resident
// layer count the planner's prediction with those figures beside the measured decode speed.
import { DEFAULT_CONTEXT_TOKENS, planModel } from '../plan';
import { describeEngineDevice } from '../engine/device-description';
import type { DeviceFigures, Plan, PlanWishes } from '../plan';
import { measureRoundTrip } from '../gpu/calibrate';
import type { EngineDevice } from '../gpu/device';
import { GgufEngine } from '../engine/gguf/engine';
import { GREEDY } from '../engine/engine';
import type { ModelHeader, ModelSource } from '../engine/gguf/types';
import type { DecodeStats } from '../engine/gguf/generate';
import type { AllocatedBytes } from '../engine/gguf/allocator';
import { checkSupported, parseHeader } from '../engine/gguf/header';
import { openCliDevice, precisionChoice } from './engine-cli';
import { CliUsageError, numberFlag, type CliArgs } from './args';

const MiB = 2 ** 20;

/**
 * Bytes per second of streaming as the engine streams: writes of `writeBytes` alternating between
 * two slot-sized buffers, each followed by its own submission, until the GPU has them all.
 */
export async function measureUploadBandwidth(
  device: GPUDevice,
  writeBytes: number,
): Promise<number> {
  const size = Math.max(4, Math.ceil(writeBytes / 4) * 4);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const slots = [0, 1].map((i) => device.createBuffer({ label: `upload probe ${i}`, size, usage }));
  try {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i += 4096) data[i] = i & 0xff;
    const write = (i: number) => {
      device.queue.writeBuffer(slots[i % 2], 0, data);
      device.queue.submit([device.createCommandEncoder().finish()]);
    };
    write(0);
    write(1);
    await device.queue.onSubmittedWorkDone();
    const writes = Math.max(8, Math.ceil((32 * MiB) / size));
    const start = performance.now();
    for (let i = 0; i < writes; i++) write(i);
    await device.queue.onSubmittedWorkDone();
    return (writes * size) / Math.max((performance.now() - start) / 1000, 1e-6);
  } finally {
    for (const slot of slots) slot.destroy();
  }
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
  /** Interleaved decodes per configuration; the fastest counts (least disturbed by other work). */
  rounds?: number;
}

function benchPrompt(vocab: number, length: number): number[] {
  return Array.from({ length }, (_, i) => (i * 7919 + 13) % vocab);
}

function planFor(setup: BenchSetup, figures: DeviceFigures, resident: number): Plan {
  const plan = planModel(setup.header, [describeEngineDevice(setup.device, figures)], {
    ...setup.wishes,
    residentLayers: resident,
    decodePosition: setup.promptLength + Math.floor(setup.decodeTokens / 2),
  });
  if (plan.fits === 'none') throw new Error(`no plan runs this model: ${plan.reasons.join(' ')}`);
  return plan;
}

/** One greedy prefill and decode from position 0; returns the decode statistics. */
async function decode(setup: BenchSetup, engine: GgufEngine): Promise<DecodeStats> {
  const prompt = benchPrompt(engine.model.outputRows, setup.promptLength);
  const options = { maxTokens: setup.decodeTokens + 1, sampling: GREEDY };
  engine.resetCache();
  for await (const token of engine.generateTokens(prompt, options)) void token;
  return engine.lastStats!;
}

export interface ResidencyMeasurement {
  resident: number;
  /** Planned with the calibrated figures. */
  plan: Plan;
  tokensPerSecond: number;
  uploadBytesPerToken: number;
  submissionsPerToken: number;
  loadMs: number;
  prefillTokensPerSecond: number;
  allocated: AllocatedBytes;
}

export interface ResidencyBench {
  calibration: Calibration;
  runs: ResidencyMeasurement[];
}

export interface Calibration extends DeviceFigures {
  uploadBytesPerSecond: number;
  computeBytesPerSecond: number;
  roundTripSeconds: number;
}

/**
 * Loads the model once per resident layer count (and once fully resident), decodes each after
 * a warm-up in interleaved rounds so other work on the machine slows them alike, and calibrates
 * the weight read rate from the fully resident decode: the rate at which the planner's compute
 * time plus the measured round trip equals it. Upload bandwidth is measured with writes the size
 * of a streamed layer. Then each count's prediction is made with these figures.
 */
export async function benchResidencies(
  setup: BenchSetup,
  residents: number[],
): Promise<ResidencyBench> {
  const layers = setup.header.hparams.blockCount;
  const probe = describeEngineDevice(setup.device);
  const assumed = { computeBytesPerSecond: probe.computeRate.value };
  const counts = [layers, ...residents.filter((n) => n !== layers)];
  const loaded: { resident: number; plan: Plan; engine: GgufEngine }[] = [];
  try {
    for (const resident of counts) {
      const plan = planFor(setup, assumed, resident);
      const engine = await GgufEngine.loadPlanned(
        [setup.device],
        setup.source,
        setup.header,
        plan,
        {
          lanesPerRow: setup.lanesPerRow,
        },
      );
      loaded.push({ resident, plan, engine });
    }
    const streamedLayer = loaded.reduce(
      (a, l) => Math.max(a, l.plan.layers.devices[0].bytes.slots / 2),
      0,
    );
    const device = setup.device.device;
    const uploadBytesPerSecond = await measureUploadBandwidth(
      device,
      streamedLayer || planFor(setup, assumed, 0).layers.devices[0].bytes.slots / 2,
    );
    const roundTripSeconds = await measureRoundTrip(device);
    for (const l of loaded) await decode(setup, l.engine);
    const best = loaded.map(() => null as DecodeStats | null);
    for (let round = 0; round < (setup.rounds ?? 3); round++) {
      // Each round starts with another configuration, so none always runs right after a switch.
      for (let k = 0; k < loaded.length; k++) {
        const i = (round + k) % loaded.length;
        const stats = await decode(setup, loaded[i].engine);
        if (!best[i] || stats.decodeTokensPerSecond > best[i]!.decodeTokensPerSecond) {
          best[i] = stats;
        }
      }
    }
    const full = loaded[0];
    const bytesPerToken = full.plan.predicted.computeSeconds * assumed.computeBytesPerSecond;
    const computeSeconds = Math.max(1 / best[0]!.decodeTokensPerSecond - roundTripSeconds, 1e-9);
    const calibration: Calibration = {
      uploadBytesPerSecond,
      roundTripSeconds,
      computeBytesPerSecond: bytesPerToken / computeSeconds,
    };
    const runs = residents.map((resident) => {
      const i = loaded.findIndex((l) => l.resident === resident);
      const stats = best[i]!;
      return {
        resident,
        plan: planFor(setup, calibration, resident),
        tokensPerSecond: stats.decodeTokensPerSecond,
        uploadBytesPerToken: stats.uploadBytesPerToken,
        submissionsPerToken: stats.submissionsPerToken,
        loadMs: loaded[i].engine.loadMs,
        prefillTokensPerSecond: stats.prefillTokensPerSecond,
        allocated: loaded[i].engine.planned.allocated()[0],
      };
    });
    return { calibration, runs };
  } finally {
    for (const l of loaded) await l.engine.unload();
  }
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
  const { calibration, runs } = await benchResidencies(setup, [resident]);
  const run = runs[0];
  const { plan, allocated } = run;
  const predicted = plan.predicted.decodeTokensPerSecond;
  const off = (run.tokensPerSecond - predicted) / predicted;
  return [
    ['device', plan.layers.devices[0].name],
    ['resident layers', `${plan.layers.resident} of ${plan.layers.total} (${plan.fits})`],
    ['weights', plan.precision.weights === 'q8_0' ? 'INT8 (Q8_0, quantized on load)' : 'file'],
    ['load', `${run.loadMs.toFixed(0)} ms`],
    ['prefill', `${run.prefillTokensPerSecond.toFixed(2)} tok/s (${setup.promptLength} tokens)`],
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
  const context = Math.min(header.hparams.contextLength, DEFAULT_CONTEXT_TOKENS);
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
