// Opens a GPUDevice with the limits an inference engine needs raised to what the adapter allows.
// Spec defaults (256 MiB buffers, 128 MiB bindings, 16 KiB workgroup storage, 8 storage buffers)
// are far below what LLM weights need on most desktop adapters.

export const ENGINE_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxUniformBufferBindingSize',
  'maxBindGroups',
] as const;

export const ENGINE_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

export interface DeviceLoss {
  reason: GPUDeviceLostReason;
  message: string;
}

export interface EngineDevice {
  device: GPUDevice;
  adapterInfo: GPUAdapterInfo;
  features: ReadonlySet<string>;
  /** The WGSL language features of the GPU it came from; absent where they were not given. */
  wgslLanguageFeatures?: ReadonlySet<string>;
  /** Resolves when the device is lost; never rejects. */
  lost: Promise<DeviceLoss>;
}

export interface OpenDeviceOptions {
  /** Leave `shader-f16` off even where the adapter has it (tests force the f32 path). */
  disableF16?: boolean;
  label?: string;
  /** The GPU's `wgslLanguageFeatures`, kept on the device for the kernels that need one. */
  wgslLanguageFeatures?: Iterable<string>;
}

/**
 * Whether kernels on this device may use WGSL's packed 4x8 integer dot products (`dot4I8Packed`,
 * `pack4xI8`): yes unless the GPU's language features were given and lack them.
 */
export function hasIntegerDotProduct(device: EngineDevice): boolean {
  return device.wgslLanguageFeatures?.has('packed_4x8_integer_dot_product') ?? true;
}

export async function openEngineDevice(
  adapter: GPUAdapter,
  options: OpenDeviceOptions = {},
): Promise<EngineDevice> {
  const requiredLimits: Record<string, number> = {};
  for (const name of ENGINE_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  const requiredFeatures = ENGINE_FEATURES.filter(
    (f) => adapter.features.has(f) && !(options.disableF16 && f === 'shader-f16'),
  ) as GPUFeatureName[];
  const device = await adapter.requestDevice({
    label: options.label ?? 'layerwise',
    requiredLimits,
    requiredFeatures,
  });
  const lost = device.lost.then((info) => ({ reason: info.reason, message: info.message }));
  return {
    device,
    adapterInfo: adapter.info,
    features: new Set(device.features as unknown as Iterable<string>),
    wgslLanguageFeatures: options.wgslLanguageFeatures && new Set(options.wgslLanguageFeatures),
    lost,
  };
}
