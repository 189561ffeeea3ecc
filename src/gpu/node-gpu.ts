// Node only: WebGPU through Dawn (npm `webgpu`). With several Vulkan ICDs listed in
// VK_ICD_FILENAMES, `adapter=NAME` picks one by a substring of its name, and separate
// instances give separate devices, which is how tests get two different GPUs at once.
// Instances are kept for the life of the process: Dawn segfaults when a collected instance's
// Vulkan driver is torn down while another instance is in use. The engine's waits on
// its passes are paced (node-pacing.ts).
import { create, globals } from 'webgpu';
import { openEngineDevice, type EngineDevice, type OpenDeviceOptions } from './device';
import { pacedWait } from './node-pacing';
import { setPassWait } from './pass-wait';

let globalsInstalled = false;

export type NodeAdapterName = 'swiftshader' | 'lavapipe';

const DAWN_ADAPTER_NAMES: Record<NodeAdapterName, string> = {
  swiftshader: 'SwiftShader',
  lavapipe: 'llvmpipe',
};

const instances = new Map<string, GPU>();

/** One Dawn instance per adapter for the life of the process (see the note at the top). */
export function nodeGpu(adapter?: NodeAdapterName): GPU {
  if (!globalsInstalled) {
    Object.assign(globalThis, globals);
    setPassWait(pacedWait);
    globalsInstalled = true;
  }
  const key = adapter ?? 'default';
  let gpu = instances.get(key);
  if (!gpu) {
    gpu = create(adapter ? [`adapter=${DAWN_ADAPTER_NAMES[adapter]}`] : []);
    instances.set(key, gpu);
  }
  return gpu;
}

export async function requestNodeAdapter(adapter?: NodeAdapterName): Promise<GPUAdapter> {
  const found = await nodeGpu(adapter).requestAdapter();
  if (!found) {
    throw new Error(
      `No WebGPU adapter${adapter ? ` named ${adapter}` : ''} in Dawn. ` +
        'Set VK_ICD_FILENAMES to the Vulkan ICD files (run `npm run setup:system` to install them).',
    );
  }
  return found;
}

/** A device on a Dawn adapter, with the WGSL language features of the GPU object it came from. */
export async function openNodeDevice(
  adapter?: NodeAdapterName,
  options: OpenDeviceOptions = {},
): Promise<EngineDevice> {
  return openEngineDevice(await requestNodeAdapter(adapter), {
    ...options,
    wgslLanguageFeatures: nodeGpu(adapter).wgslLanguageFeatures as unknown as Iterable<string>,
  });
}
