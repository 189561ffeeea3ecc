// An opened engine device as the planner sees it, from what WebGPU reports of its adapter; shared
// by the worker and the Node entry points.
import { describeAdapter } from '../plan';
import type { DeviceDescription, DeviceFigures } from '../plan';
import { adapterName, classifyAdapter } from '../gpu/probe';
import type { EngineDevice } from '../gpu/device';

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
