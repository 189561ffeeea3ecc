// WebLLM's prebuilt models as Models view entries: one per family, in the variant this adapter can
// run, with a verdict from WebLLM's own VRAM figure against the memory budget. WebLLM keeps every
// layer on the GPU, so a model either fits or does not run; there is no header to plan from.
import { budgetReport } from '../../plan/budget';
import type { DeviceDescription, MarginWish } from '../../plan/types';
import { chooseVariant, prebuiltModels, type PrebuiltModel } from '../../engine/webllm/catalog';

const MiB = 2 ** 20;

export interface WebLLMVerdict {
  fits: 'full' | 'none';
  /** Bytes WebLLM says the model needs on the GPU. */
  needBytes: number | null;
  usableBytes: number;
  /** Decode speed from the weight bytes and the device's weight-read rate; rough, since WebLLM's figure includes its buffers. */
  decodeTokensPerSecond: number | null;
  reasons: string[];
}

export interface WebLLMEntry {
  family: string;
  model: PrebuiltModel;
}

/** One entry per family that has a 4-bit variant this adapter can run, smallest first. */
export function webllmEntries(
  hasShaderF16: boolean,
  models: readonly PrebuiltModel[] = prebuiltModels(),
): WebLLMEntry[] {
  const families = [...new Set(models.map((m) => m.family))];
  return families
    .flatMap((family) => {
      try {
        return [{ family, model: chooseVariant(family, hasShaderF16, models) }];
      } catch {
        return [];
      }
    })
    .sort((a, b) => (a.model.vramMB ?? Infinity) - (b.model.vramMB ?? Infinity));
}

export function webllmVerdict(
  model: PrebuiltModel,
  device: DeviceDescription,
  margin: MarginWish,
): WebLLMVerdict {
  const { usableBytes } = budgetReport(device.memoryBudget, margin);
  const needBytes = model.vramMB === null ? null : Math.round(model.vramMB * MiB);
  const missing = model.requiredFeatures.filter((f) => !device.features.includes(f));
  const reasons: string[] = [];
  if (missing.length) {
    reasons.push(
      `${device.name} lacks ${missing.join(', ')}, which this build of the model needs.`,
    );
  }
  if (needBytes !== null && needBytes > usableBytes) {
    reasons.push(
      `WebLLM needs ${Math.round(needBytes / MiB)} MiB on the GPU and keeps every layer there; ${Math.round(usableBytes / MiB)} MiB is usable here.`,
    );
  }
  const fits = reasons.length === 0 ? 'full' : 'none';
  if (fits === 'full') {
    reasons.push(
      needBytes === null
        ? 'WebLLM does not say how much memory this model needs.'
        : `Needs ${Math.round(needBytes / MiB)} MiB of the ${Math.round(usableBytes / MiB)} MiB usable.`,
    );
  }
  return {
    fits,
    needBytes,
    usableBytes,
    decodeTokensPerSecond: needBytes ? device.computeRate.value / needBytes : null,
    reasons,
  };
}
