// The GPU probe: what this browser's WebGPU offers, read once at start-up. It takes the `GPU`
// object (and the few navigator fields it reads) as parameters so the same code runs in the page,
// in a worker and in Node on dawn.node.
import { openEngineDevice, type EngineDevice, type OpenDeviceOptions } from './device';
import { adviceWithoutAdapter, adviceWithoutWebGpu } from './probe-advice';

export type AdapterClass = 'discrete' | 'integrated' | 'software' | 'unknown';

export interface AdapterIdentity {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  subgroupMinSize: number | null;
  subgroupMaxSize: number | null;
}

export interface AdapterReport {
  /** The power preferences that returned this adapter (both when the browser has one GPU). */
  preferences: GPUPowerPreference[];
  info: AdapterIdentity;
  class: AdapterClass;
  /** Why the class was chosen, in words a person can check. */
  classReason: string;
  limits: Record<string, number>;
  features: string[];
  /** Chromium exposes memory heaps only behind a developer flag; null where absent. */
  memoryHeaps: { size: number; properties: number }[] | null;
}

export interface MemoryFigure {
  bytes: number;
  /** Where the number came from and how far to trust it. */
  source: string;
}

export interface GpuReport {
  status: 'ok';
  /** One entry when both power preferences give the same GPU, two when they differ. */
  adapters: AdapterReport[];
  sameAdapter: boolean;
  wgslLanguageFeatures: string[];
  hostMemory: MemoryFigure | null;
  storageQuota: MemoryFigure | null;
  storageUsage: MemoryFigure | null;
  warnings: string[];
  userAgent: string;
}

export interface ProbeFailure {
  status: 'no-webgpu' | 'no-adapter' | 'error';
  message: string;
  /** Concrete steps for the person: browser, version, flag, setting. */
  advice: string[];
  userAgent: string;
}

export type ProbeResult = GpuReport | ProbeFailure;

/** What naming and classifying an adapter need: its info fields without the subgroup sizes. */
export type AdapterNames = Pick<
  AdapterIdentity,
  'vendor' | 'architecture' | 'device' | 'description' | 'isFallbackAdapter'
>;

/** The parts of `navigator` the probe reads, so tests and Node can pass their own. */
export interface ProbeEnvironment {
  gpu: GPU | undefined | null;
  userAgent?: string;
  secureContext?: boolean;
  /** `navigator.deviceMemory`: GiB, rounded and capped by the browser. */
  deviceMemory?: number;
  storage?: { estimate(): Promise<{ quota?: number; usage?: number }> };
}

export function browserEnvironment(): ProbeEnvironment {
  const nav = globalThis.navigator as
    (Omit<Navigator, 'storage'> & { deviceMemory?: number; storage?: StorageManager }) | undefined;
  return {
    gpu: nav?.gpu,
    userAgent: nav?.userAgent ?? '',
    secureContext: globalThis.isSecureContext ?? true,
    deviceMemory: nav?.deviceMemory,
    storage: nav?.storage,
  };
}

const SOFTWARE_NAMES = /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|\bwarp\b/i;
const INTEGRATED_VENDORS = /^(apple|qualcomm|arm|imagination|img-tec|samsung|mali|powervr)$/i;
const INTEL_DISCRETE = /\barc\b|hpg|\bdg[12]\b|alchemist|battlemage/i;
const AMD_DISCRETE = /\brx\b|radeon pro|\bw\d{4}\b|vii|instinct/i;
const AMD_INTEGRATED =
  /radeon\(tm\) graphics|radeon graphics|vega \d+ graphics|\b\d{3,4}m\b|\d{4}s\b/i;

export function classifyAdapter(
  info: AdapterNames,
  role: 'only' | 'high-performance' | 'low-power' = 'only',
): { class: AdapterClass; reason: string } {
  const names = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  if (info.isFallbackAdapter) {
    return { class: 'software', reason: 'the browser marks it as a fallback (software) adapter' };
  }
  if (SOFTWARE_NAMES.test(names)) {
    return { class: 'software', reason: `"${names.trim()}" is a software renderer` };
  }
  const vendor = info.vendor.toLowerCase();
  const detail = `${info.architecture} ${info.device} ${info.description}`;
  if (vendor === 'nvidia') return { class: 'discrete', reason: 'NVIDIA GPUs are discrete' };
  if (INTEGRATED_VENDORS.test(vendor)) {
    return { class: 'integrated', reason: `${info.vendor} GPUs share memory with the CPU` };
  }
  if (vendor === 'intel') {
    return INTEL_DISCRETE.test(detail)
      ? { class: 'discrete', reason: 'an Intel Arc (discrete) architecture' }
      : { class: 'integrated', reason: 'Intel GPUs other than Arc are integrated' };
  }
  if (vendor === 'amd') {
    if (AMD_DISCRETE.test(detail)) return { class: 'discrete', reason: 'a Radeon RX/Pro model' };
    if (AMD_INTEGRATED.test(detail)) {
      return { class: 'integrated', reason: 'a Radeon integrated graphics model' };
    }
  }
  if (role === 'high-performance') {
    return { class: 'discrete', reason: 'the browser offers a separate low-power GPU beside it' };
  }
  if (role === 'low-power') {
    return { class: 'integrated', reason: 'the browser offers a separate high-performance GPU' };
  }
  return { class: 'unknown', reason: 'the browser does not say enough to tell' };
}

/** The subgroups a device's kernels can use: whether it has the feature, and its sizes. */
export interface DeviceSubgroups {
  enabled: boolean;
  /** Smallest and largest subgroup its adapter reports (absent where it reports none). */
  min?: number;
  max?: number;
}

export function deviceSubgroups(device: GPUDevice): DeviceSubgroups {
  const info = device.adapterInfo as GPUAdapterInfo & {
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
  };
  return {
    enabled: device.features.has('subgroups'),
    min: info.subgroupMinSize,
    max: info.subgroupMaxSize,
  };
}

function identity(adapter: GPUAdapter): AdapterIdentity {
  const info = adapter.info as GPUAdapterInfo & {
    isFallbackAdapter?: boolean;
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
  };
  const legacyFallback = (adapter as GPUAdapter & { isFallbackAdapter?: boolean })
    .isFallbackAdapter;
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? legacyFallback),
    subgroupMinSize: info.subgroupMinSize ?? null,
    subgroupMaxSize: info.subgroupMaxSize ?? null,
  };
}

/** Every limit the adapter reports; WebIDL attributes are enumerable on the prototype. */
function readLimits(limits: GPUSupportedLimits): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name in limits) {
    const value = (limits as unknown as Record<string, unknown>)[name];
    if (typeof value === 'number') out[name] = value;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

interface GPUMemoryHeap {
  size: number | bigint;
  properties: number;
}

function readAdapter(adapter: GPUAdapter, preference: GPUPowerPreference): AdapterReport {
  const info = identity(adapter);
  const heaps = (adapter.info as GPUAdapterInfo & { memoryHeaps?: ArrayLike<GPUMemoryHeap> })
    .memoryHeaps;
  return {
    preferences: [preference],
    info,
    ...classFields(classifyAdapter(info)),
    limits: readLimits(adapter.limits),
    features: [...(adapter.features as unknown as Iterable<string>)].sort(),
    memoryHeaps: heaps
      ? Array.from(heaps, (h) => ({ size: Number(h.size), properties: h.properties }))
      : null,
  };
}

function classFields(c: { class: AdapterClass; reason: string }) {
  return { class: c.class, classReason: c.reason };
}

function sameGpu(a: AdapterReport, b: AdapterReport): boolean {
  const key = (r: AdapterReport) => JSON.stringify([r.info, r.limits, r.features]);
  return key(a) === key(b);
}

function reclassifyPair(report: AdapterReport, role: 'high-performance' | 'low-power'): void {
  Object.assign(report, classFields(classifyAdapter(report.info, role)));
}

async function requestAdapter(
  gpu: GPU,
  powerPreference: GPUPowerPreference,
): Promise<GPUAdapter | null> {
  return gpu.requestAdapter({ powerPreference });
}

async function memoryFigures(
  env: ProbeEnvironment,
): Promise<Pick<GpuReport, 'hostMemory' | 'storageQuota' | 'storageUsage'>> {
  const hostMemory =
    typeof env.deviceMemory === 'number' && env.deviceMemory > 0
      ? {
          bytes: env.deviceMemory * 2 ** 30,
          source:
            'navigator.deviceMemory: the browser rounds it to a power of two and caps it (Chrome at 8 GiB)',
        }
      : null;
  let storageQuota: MemoryFigure | null = null;
  let storageUsage: MemoryFigure | null = null;
  if (env.storage) {
    try {
      const estimate = await env.storage.estimate();
      if (typeof estimate.quota === 'number') {
        storageQuota = {
          bytes: estimate.quota,
          source: 'navigator.storage.estimate().quota: how much this site may store',
        };
      }
      if (typeof estimate.usage === 'number') {
        storageUsage = {
          bytes: estimate.usage,
          source: 'navigator.storage.estimate().usage: what this site stores now',
        };
      }
    } catch {
      // Some browsers refuse estimates in private windows; the figures then stay unknown.
    }
  }
  return { hostMemory, storageQuota, storageUsage };
}

/** A name a person recognises: the description where the browser gives one, else vendor and architecture. */
export function adapterName(info: Omit<AdapterNames, 'isFallbackAdapter'>): string {
  return (
    info.description ||
    [info.vendor, info.architecture].filter(Boolean).join(' ') ||
    info.device ||
    'the GPU'
  );
}

function warningsFor(adapters: AdapterReport[]): string[] {
  const warnings: string[] = [];
  for (const a of adapters) {
    const name = adapterName(a.info);
    if (a.class === 'software') {
      warnings.push(
        `${name} is a software adapter: it runs on the CPU, so models run, but slowly (expect a few tokens per second at best for small models).`,
      );
    }
    if (!a.features.includes('shader-f16')) {
      warnings.push(
        `${name} has no shader-f16: computation runs in f32, which needs twice the memory traffic.`,
      );
    }
  }
  return warnings;
}

export async function probeGpu(env: ProbeEnvironment = browserEnvironment()): Promise<ProbeResult> {
  const userAgent = env.userAgent ?? '';
  if (!env.gpu) {
    return {
      status: 'no-webgpu',
      message: 'This browser does not offer WebGPU, which Layerwise needs to run models.',
      advice: adviceWithoutWebGpu(userAgent, env.secureContext ?? true),
      userAgent,
    };
  }
  let high: GPUAdapter | null;
  let low: GPUAdapter | null;
  try {
    high = await requestAdapter(env.gpu, 'high-performance');
    low = await requestAdapter(env.gpu, 'low-power');
  } catch (error) {
    return {
      status: 'error',
      message: `The browser failed while looking for a GPU: ${(error as Error)?.message ?? String(error)}`,
      advice: adviceWithoutAdapter(userAgent),
      userAgent,
    };
  }
  if (!high && !low) {
    return {
      status: 'no-adapter',
      message: 'WebGPU is present, but the browser offers no GPU adapter to this page.',
      advice: adviceWithoutAdapter(userAgent),
      userAgent,
    };
  }
  const highReport = high && readAdapter(high, 'high-performance');
  const lowReport = low && readAdapter(low, 'low-power');
  let adapters: AdapterReport[];
  let sameAdapter = true;
  if (highReport && lowReport && !sameGpu(highReport, lowReport)) {
    sameAdapter = false;
    reclassifyPair(highReport, 'high-performance');
    reclassifyPair(lowReport, 'low-power');
    adapters = [highReport, lowReport];
  } else {
    const only = (highReport ?? lowReport)!;
    if (highReport && lowReport) only.preferences = ['high-performance', 'low-power'];
    adapters = [only];
  }
  return {
    status: 'ok',
    adapters,
    sameAdapter,
    wgslLanguageFeatures: [
      ...((env.gpu.wgslLanguageFeatures as unknown as Iterable<string> | undefined) ?? []),
    ].sort(),
    ...(await memoryFigures(env)),
    warnings: warningsFor(adapters),
    userAgent,
  };
}

/**
 * Opens a device on the adapter a power preference picks, once `accept` (which throws to refuse)
 * has checked the adapter. Adapters are requested afresh because a browser adapter can hand out
 * only one device.
 */
export async function openProbedDevice(
  gpu: GPU,
  powerPreference: GPUPowerPreference,
  options: OpenDeviceOptions & { accept?: (adapter: GPUAdapter) => void } = {},
): Promise<EngineDevice> {
  const adapter = await gpu.requestAdapter({ powerPreference });
  if (!adapter) {
    throw new Error(
      `The browser no longer offers a ${powerPreference} GPU adapter. Reload the page; if it persists, check the Hardware view.`,
    );
  }
  options.accept?.(adapter);
  return openEngineDevice(adapter, {
    ...options,
    wgslLanguageFeatures: gpu.wgslLanguageFeatures as unknown as Iterable<string>,
  });
}
