// Device descriptions for the planner: from what the GPU probe read (adapter class, limits,
// features) plus memory and speed figures, or from a device file (devices/*.json). Rates that
// were not measured are estimated by adapter class; devices/README.md documents the figures.
import { estimateBudget } from './budget.ts';
import type { AdapterClass, AdapterRequest, DeviceDescription, Figure } from './types.ts';

const GB = 1e9;
const MiB = 2 ** 20;

/** Matrix-vector weight reads per second when not measured: a fraction of typical memory bandwidth. */
export const DEFAULT_COMPUTE_RATE: Record<AdapterClass, number> = {
  discrete: 200 * GB,
  integrated: 50 * GB,
  software: 0.02 * GB,
  unknown: 20 * GB,
};

/** Host-to-GPU writeBuffer bandwidth when not measured (browsers add an IPC copy to PCIe). */
export const DEFAULT_UPLOAD_RATE: Record<AdapterClass, number> = {
  discrete: 6 * GB,
  integrated: 8 * GB,
  software: 10 * GB,
  unknown: 4 * GB,
};

export interface AdapterFacts {
  name: string;
  adapterClass: AdapterClass;
  limits: Record<string, number>;
  features: string[];
  /** How a browser worker asks for this adapter again; absent outside the browser. */
  adapter?: AdapterRequest;
}

export interface DeviceFigures {
  deviceMemoryGiB?: number;
  userBudgetBytes?: number;
  calibratedBytes?: number;
  /** Measured by the calibration probe, in bytes per second. */
  uploadBytesPerSecond?: number;
  computeBytesPerSecond?: number;
  /** Measured submission and read-back round trip, in seconds. */
  roundTripSeconds?: number;
}

function rate(
  measured: number | undefined,
  fallback: number,
  what: string,
  cls: AdapterClass,
): Figure {
  return measured !== undefined
    ? { value: measured, source: 'measured', detail: `${what} measured on this device` }
    : { value: fallback, source: 'estimate', detail: `typical ${what} of a ${cls} adapter` };
}

export function describeAdapter(
  adapter: AdapterFacts,
  figures: DeviceFigures = {},
): DeviceDescription {
  const cls = adapter.adapterClass;
  return {
    name: adapter.name,
    ...(adapter.adapter ? { adapter: adapter.adapter } : {}),
    adapterClass: cls,
    limits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize ?? 128 * MiB,
      maxBufferSize: adapter.limits.maxBufferSize ?? 256 * MiB,
    },
    features: [...adapter.features],
    memoryBudget: estimateBudget({
      adapterClass: cls,
      deviceMemoryGiB: figures.deviceMemoryGiB,
      userBytes: figures.userBudgetBytes,
      calibratedBytes: figures.calibratedBytes,
    }),
    uploadBandwidth: rate(
      figures.uploadBytesPerSecond,
      DEFAULT_UPLOAD_RATE[cls],
      'upload bandwidth',
      cls,
    ),
    computeRate: rate(
      figures.computeBytesPerSecond,
      DEFAULT_COMPUTE_RATE[cls],
      'weight read rate',
      cls,
    ),
    uploadOverlapsCompute: cls !== 'software',
    ...(figures.roundTripSeconds === undefined
      ? {}
      : {
          tokenOverhead: {
            value: figures.roundTripSeconds,
            source: 'measured' as const,
            detail: 'submission and read-back round trip measured on this device',
          },
        }),
  };
}

const CLASSES: AdapterClass[] = ['discrete', 'integrated', 'software', 'unknown'];

function field<T>(ok: boolean, value: T, origin: string, what: string): T {
  if (!ok) throw new TypeError(`${origin}: ${what}. See devices/README.md for the format.`);
  return value;
}

/**
 * Reads a device file: `name`, `adapterClass`, `limits` (maxStorageBufferBindingSize,
 * maxBufferSize), `features`, `memoryBudgetMiB`, and optionally `uploadGBps`, `computeGBps`,
 * `uploadOverlapsCompute`, `tokenOverheadMs`.
 */
export function parseDeviceFile(json: unknown, origin: string): DeviceDescription {
  const o = field(
    typeof json === 'object' && json !== null,
    json as Record<string, unknown>,
    origin,
    'expected a JSON object',
  );
  const name = field(
    typeof o.name === 'string' && o.name !== '',
    o.name as string,
    origin,
    '"name" must be a non-empty string',
  );
  const cls = field(
    CLASSES.includes(o.adapterClass as AdapterClass),
    o.adapterClass as AdapterClass,
    origin,
    `"adapterClass" must be one of ${CLASSES.join(', ')}`,
  );
  const limits = field(
    typeof o.limits === 'object' && o.limits !== null,
    o.limits as Record<string, unknown>,
    origin,
    '"limits" must be an object',
  );
  const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  for (const key of ['maxStorageBufferBindingSize', 'maxBufferSize']) {
    field(positive(limits[key]), 0, origin, `"limits.${key}" must be a positive number of bytes`);
  }
  const features = field(
    Array.isArray(o.features) && o.features.every((f) => typeof f === 'string'),
    o.features as string[],
    origin,
    '"features" must be an array of strings',
  );
  const budget = field(
    positive(o.memoryBudgetMiB),
    o.memoryBudgetMiB as number,
    origin,
    '"memoryBudgetMiB" must be a positive number',
  );
  for (const key of ['uploadGBps', 'computeGBps', 'tokenOverheadMs']) {
    field(
      o[key] === undefined || positive(o[key]),
      0,
      origin,
      `"${key}" must be a positive number when given`,
    );
  }
  const described = describeAdapter({
    name,
    adapterClass: cls,
    limits: limits as Record<string, number>,
    features,
  });
  const fromFile = (value: number, what: string): Figure => ({
    value,
    source: 'estimate',
    detail: `${what} from ${origin}`,
  });
  return {
    ...described,
    memoryBudget: fromFile(budget * MiB, 'memory budget'),
    uploadBandwidth:
      o.uploadGBps === undefined
        ? described.uploadBandwidth
        : fromFile((o.uploadGBps as number) * GB, 'upload bandwidth'),
    computeRate:
      o.computeGBps === undefined
        ? described.computeRate
        : fromFile((o.computeGBps as number) * GB, 'weight read rate'),
    uploadOverlapsCompute:
      typeof o.uploadOverlapsCompute === 'boolean'
        ? o.uploadOverlapsCompute
        : described.uploadOverlapsCompute,
    ...(o.tokenOverheadMs === undefined
      ? {}
      : { tokenOverhead: fromFile((o.tokenOverheadMs as number) / 1000, 'per-token overhead') }),
  };
}

/** The same device with the person's own budget, which replaces every other figure. */
export function withUserBudget(device: DeviceDescription, bytes: number): DeviceDescription {
  return { ...device, memoryBudget: { value: bytes, source: 'user', detail: 'set by you' } };
}

/** What the calibration probe found (`calibrate()` in src/gpu/calibrate.ts), as device figures. */
export function figuresFromCalibration(result: {
  allocatedBytes: number;
  uploadBytesPerSecond: number | null;
  computeBytesPerSecond: number | null;
  roundTripSeconds: number;
}): DeviceFigures {
  return {
    calibratedBytes: result.allocatedBytes,
    uploadBytesPerSecond: result.uploadBytesPerSecond ?? undefined,
    computeBytesPerSecond: result.computeBytesPerSecond ?? undefined,
    roundTripSeconds: result.roundTripSeconds,
  };
}

/** The same device with its budget lowered by `fraction`, e.g. to retry after an out-of-memory error. */
export function lowerBudget(
  device: DeviceDescription,
  fraction: number,
  why: string,
): DeviceDescription {
  if (!(fraction > 0 && fraction < 1)) {
    throw new RangeError(`A budget can be lowered by a fraction between 0 and 1, not ${fraction}.`);
  }
  const b = device.memoryBudget;
  return {
    ...device,
    memoryBudget: {
      value: Math.floor(b.value * (1 - fraction)),
      source: b.source,
      detail: `${b.detail}, lowered ${Math.round(fraction * 100)}% ${why}`,
    },
  };
}
