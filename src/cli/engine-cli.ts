// Shared by the infer and bench entry points: opening a dawn.node adapter and reading the compute
// precision flag (the only place `on`/`off` is spoken) as the planner's wish.
import { existsSync } from 'node:fs';
import { openNodeDevice, type NodeAdapterName } from '../gpu/node-gpu';
import type { EngineDevice } from '../gpu/device';
import type { ComputeWish } from '../plan';
import { CliUsageError, type CliArgs } from './args';

const ICD_FILES = [
  '/usr/share/vulkan/icd.d/lvp_icd.json',
  '/usr/lib/chromium/vk_swiftshader_icd.json',
];

/** Points Vulkan at the software drivers this machine has, unless VK_ICD_FILENAMES names others. */
export function useSoftwareIcds(): void {
  if (process.env.VK_ICD_FILENAMES) return;
  const present = ICD_FILES.filter((f) => existsSync(f));
  if (present.length) process.env.VK_ICD_FILENAMES = present.join(':');
}

export async function openCliDevice(args: CliArgs): Promise<EngineDevice> {
  useSoftwareIcds();
  const name = args.values.adapter;
  if (name !== undefined && name !== 'swiftshader' && name !== 'lavapipe') {
    throw new CliUsageError(`--adapter must be swiftshader or lavapipe, not "${name}"`);
  }
  const f16 = args.values.f16 ?? 'auto';
  if (!['auto', 'on', 'off'].includes(f16)) {
    throw new CliUsageError(`--f16 must be auto, on or off, not "${f16}"`);
  }
  return openNodeDevice(name as NodeAdapterName | undefined, { disableF16: f16 === 'off' });
}

export function precisionChoice(args: CliArgs): ComputeWish {
  const f16 = args.values.f16 ?? 'auto';
  return f16 === 'on' ? 'f16' : f16 === 'off' ? 'f32' : 'auto';
}
