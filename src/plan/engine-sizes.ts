// The one place the planner learns how the engine stores things: the bytes of each layer's packed
// image, of the head (output norm, rope factors, untied output layer) and of the token embedding
// as the engine packs them, which tensors it quantizes to Q8_0 on load, and every scratch and KV
// buffer it allocates. All of it comes from the engine's own functions, so the planner's numbers
// change in step with its allocations.
import {
  engineBufferPlan,
  packedEmbeddingBytes,
  packedHeadBytes,
  packedLayerBytes,
} from '../engine/gguf/buffer-plan.ts';
import { tensorsForLoad } from '../engine/gguf/quantize-on-load.ts';
/** KV bytes per token of context (f16 cache by default, as the planner sizes it). */
export { kvBytesPerToken as kvBytesPerTokenOf } from '../engine/gguf/buffer-plan.ts';
import type { GGMLType, ModelHparams, TensorInfo } from '../engine/gguf/types.ts';
import type { ComputePrecision, WeightPrecision } from './types.ts';

/** The tensors as the engine holds them after loading with `weights` (INT8: F16/BF16/F32 matrices as Q8_0). */
export function tensorsOnLoad(tensors: TensorInfo[], weights: WeightPrecision): TensorInfo[] {
  return tensorsForLoad(tensors, weights);
}

/** The type one tensor has once loaded. */
export function typeOnLoad(tensor: TensorInfo, weights: WeightPrecision): GGMLType {
  return tensorsForLoad([tensor], weights)[0].type;
}

export interface PackedModel {
  /** Bytes of each layer's packed image: its GPU buffer, its host copy when streamed, its slot. */
  layerBytes: number[];
  /** Output norm, rope factors and (untied) output layer, held by the device that runs the output. */
  headBytes: number;
  embeddingBytes: number;
  /** Rope factors alone, which every other device running layers holds too. */
  ropeBytes: number;
}

/** Packs the model as the engine would with bindings of `maxBindingBytes`; throws when it cannot. */
export function packModel(
  tensors: TensorInfo[],
  layers: number,
  maxBindingBytes: number,
): PackedModel {
  const rope = tensors.filter((t) => t.name === 'rope_freqs.weight');
  return {
    layerBytes: Array.from({ length: layers }, (_, layer) =>
      packedLayerBytes(tensors, layer, maxBindingBytes),
    ),
    headBytes: packedHeadBytes(tensors, maxBindingBytes),
    embeddingBytes: packedEmbeddingBytes(tensors, maxBindingBytes),
    ropeBytes: rope.length ? packedHeadBytes(rope, maxBindingBytes) : 0,
  };
}

export interface EngineBuffer {
  name: string;
  bytes: number;
  kind: 'kv' | 'scratch';
  /** Set on per-layer buffers (the KV cache): a device holds only its own layers' buffers. */
  layer?: number;
}

export function engineBuffers(
  h: ModelHparams,
  options: { contextTokens: number; compute: ComputePrecision; prefillChunk?: number },
): EngineBuffer[] {
  const plan = engineBufferPlan(h, {
    contextTokens: options.contextTokens,
    computePrecision: options.compute,
    kvPrecision: 'f16',
    prefillChunk: options.prefillChunk,
  });
  return plan.buffers.map((b) => ({
    name: b.name,
    bytes: b.bytes,
    kind: b.category,
    ...(b.layer === undefined ? {} : { layer: b.layer }),
  }));
}
