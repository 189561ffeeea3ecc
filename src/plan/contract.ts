// The plan as the `plan` CLI prints it with --json: exactly the fields of the published contract,
// in its order, and nothing else (the full Plan object carries more for the UI and the engine).
import type { Plan } from './types.ts';

export interface PlanJson {
  fits: Plan['fits'];
  precision: Plan['precision'];
  contextTokens: number;
  layers: {
    total: number;
    resident: number;
    streamed: number;
    devices: { layers: [number, number] }[];
  };
  bytes: {
    gpu: { weights: number; kv: number; scratch: number; slots: number; total: number };
    host: { weights: number };
  };
  kvBytesPerToken: number;
  predicted: {
    decodeTokensPerSecond: number;
    bound: 'compute' | 'upload';
    /** null where no CPU description was given. */
    cpuDecodeTokensPerSecond: number | null;
  };
  /** Which engine runs the model: our WebGPU engine or llama.cpp on the CPU. */
  engine: 'gpu' | 'cpu';
  reasons: string[];
}

export function planJson(plan: Plan): PlanJson {
  const g = plan.bytes.gpu;
  return {
    fits: plan.fits,
    precision: { compute: plan.precision.compute, weights: plan.precision.weights },
    contextTokens: plan.contextTokens,
    layers: {
      total: plan.layers.total,
      resident: plan.layers.resident,
      streamed: plan.layers.streamed,
      devices: plan.layers.devices.map((d) => ({ layers: [d.layers[0], d.layers[1]] })),
    },
    bytes: {
      gpu: { weights: g.weights, kv: g.kv, scratch: g.scratch, slots: g.slots, total: g.total },
      host: { weights: plan.bytes.host.weights },
    },
    kvBytesPerToken: plan.kvBytesPerToken,
    predicted: {
      // Four significant digits: software adapters predict small fractions of a token per second.
      decodeTokensPerSecond: Number(plan.predicted.decodeTokensPerSecond.toPrecision(4)),
      bound: plan.predicted.bound,
      cpuDecodeTokensPerSecond:
        plan.predicted.cpuDecodeTokensPerSecond === undefined
          ? null
          : Number(plan.predicted.cpuDecodeTokensPerSecond.toPrecision(4)),
    },
    engine: plan.engine ?? 'gpu',
    reasons: [...plan.reasons],
  };
}
