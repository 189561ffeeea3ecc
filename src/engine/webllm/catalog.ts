// WebLLM's prebuilt MLC models as plain data for the Models view. The list is a snapshot of
// `prebuiltAppConfig` (prebuilt-models.json) so that showing the catalogue does not fetch WebLLM's
// 6 MB module; test/unit/webllm-catalog.test.ts fails when the snapshot and the package disagree.
import snapshot from './prebuilt-models.json';

export interface PrebuiltModel {
  /** WebLLM's model_id, e.g. `SmolLM2-360M-Instruct-q4f16_1-MLC`. */
  id: string;
  /** The model without its quantization, e.g. `SmolLM2-360M-Instruct`. */
  family: string;
  /** e.g. `q4f16_1`, `q4f32_1`, `q0f16`. */
  quantization: string;
  /** WebLLM's own VRAM estimate (informational: WebLLM does not enforce it). */
  vramMB: number | null;
  contextWindow: number | null;
  lowResource: boolean;
  requiredFeatures: string[];
}

/** The subset of WebLLM's ModelRecord this module reads. */
export interface ModelRecordLike {
  model_id: string;
  vram_required_MB?: number;
  low_resource_required?: boolean;
  required_features?: string[];
  model_type?: number;
  overrides?: { context_window_size?: number };
}

const ID_PATTERN = /^(.*)-(q\d+f\d+(?:_\d+)?)-MLC$/;

/** Chat models only (WebLLM's ModelType.LLM is 0 or absent), in WebLLM's order. */
export function summarizeRecords(records: readonly ModelRecordLike[]): PrebuiltModel[] {
  return records.flatMap((record) => {
    const match = ID_PATTERN.exec(record.model_id);
    if (!match || (record.model_type ?? 0) !== 0) return [];
    return [
      {
        id: record.model_id,
        family: match[1],
        quantization: match[2],
        vramMB: record.vram_required_MB ?? null,
        contextWindow: record.overrides?.context_window_size ?? null,
        lowResource: record.low_resource_required ?? false,
        requiredFeatures: record.required_features ?? [],
      },
    ];
  });
}

export function prebuiltModels(): PrebuiltModel[] {
  return snapshot as PrebuiltModel[];
}

/**
 * The variant of a model family for this adapter: q4f16_1 where the adapter has `shader-f16`,
 * else q4f32_1 (f16 kernels cannot run without the feature).
 */
export function chooseVariant(
  family: string,
  hasShaderF16: boolean,
  models: readonly PrebuiltModel[] = prebuiltModels(),
): PrebuiltModel {
  const wanted = hasShaderF16 ? ['q4f16_1', 'q4f32_1'] : ['q4f32_1'];
  for (const quantization of wanted) {
    const found = models.find((m) => m.family === family && m.quantization === quantization);
    if (found) return found;
  }
  const others = models.filter((m) => m.family === family).map((m) => m.quantization);
  throw new Error(
    others.length === 0
      ? `WebLLM has no prebuilt model named ${family}: pick one from the Models view.`
      : `WebLLM builds ${family} only as ${others.join(', ')}, which ${hasShaderF16 ? 'is not a 4-bit variant' : 'needs shader-f16, missing on this GPU'}: pick another model.`,
  );
}
