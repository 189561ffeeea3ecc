// Loading the GGUF engine in Node as the app does: plan the model for the opened device(s), then
// carry the plan out.
import { GgufEngine, type GgufEngineOptions } from '../../../src/engine/gguf/engine';
import { checkSupported, parseHeader } from '../../../src/engine/gguf/header';
import { textCodec } from '../../../src/engine/gguf/text-codec';
import type { ModelSource } from '../../../src/engine/gguf/types';
import { describeEngineDevice } from '../../../src/engine/device-description';
import type { EngineDevice } from '../../../src/gpu/device';
import { planModel, type PlanWishes } from '../../../src/plan';

/** The engine with a tokenizer, every layer resident, at `contextTokens` and f32 compute by default. */
export async function loadFullyResident(
  device: EngineDevice,
  source: ModelSource,
  contextTokens: number,
  wishes: PlanWishes = {},
  options: GgufEngineOptions = {},
): Promise<GgufEngine> {
  const header = await parseHeader(source);
  checkSupported(header);
  const plan = planModel(header, [describeEngineDevice(device)], {
    contextTokens,
    contextFloor: contextTokens,
    compute: 'f32',
    weights: 'file',
    residentLayers: header.hparams.blockCount,
    ...wishes,
  });
  if (plan.fits === 'none') throw new Error(`no plan: ${plan.reasons.join(' ')}`);
  return GgufEngine.loadPlanned([device], source, header, plan, { codec: textCodec, ...options });
}
