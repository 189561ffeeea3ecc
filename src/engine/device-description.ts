// An opened engine device as the planner sees it, from what WebGPU reports of its adapter; shared
// by the worker and the Node entry points. And the other way: whether an adapter is still the one
// a plan was made for.
import { describeAdapter } from '../plan';
import type { DeviceDescription, DeviceFigures, DevicePlan, Plan } from '../plan';
import { adapterName, classifyAdapter } from '../gpu/probe';
import { ENGINE_FEATURES, type EngineDevice } from '../gpu/device';

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

/** What `adapter` lacks or has differently from what the plan's `device` was made for; empty when none. */
export function adapterDifferences(
  device: DevicePlan,
  plan: Pick<Plan, 'precision'>,
  adapter: Pick<GPUAdapter, 'info' | 'limits' | 'features'>,
): string[] {
  const differences: string[] = [];
  const expected = device.adapter;
  if (expected) {
    for (const key of ['vendor', 'architecture', 'device', 'description'] as const) {
      const found = adapter.info[key] ?? '';
      if (found !== expected[key]) {
        differences.push(`${key} is "${found}", the plan expected "${expected[key]}"`);
      }
    }
  }
  for (const key of ['maxStorageBufferBindingSize', 'maxBufferSize'] as const) {
    if (adapter.limits[key] < device.limits[key]) {
      differences.push(
        `${key} is ${adapter.limits[key]}, the plan counted on ${device.limits[key]}`,
      );
    }
  }
  const needed = new Set(
    device.features.filter((f) => (ENGINE_FEATURES as readonly string[]).includes(f)),
  );
  if (plan.precision.compute === 'f16') needed.add('shader-f16');
  for (const feature of needed) {
    if (!adapter.features.has(feature)) differences.push(`the feature ${feature} is missing`);
  }
  return differences;
}
