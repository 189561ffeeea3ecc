// The one place the planner learns how the engine stores things: the bytes of each layer's packed
// image, of the head (output norm, rope factors, untied output layer) and of the token embedding
// as the engine packs them, and every scratch and KV buffer the engine allocates. All of it comes
// from the engine's own buffer plan, so the planner's numbers change in step with its allocations.
import {
  engineBufferPlan,
  packedEmbeddingBytes,
  packedHeadBytes,
  packedLayerBytes,
} from '../engine/gguf/buffer-plan.ts';
import {
  BLOCK_LAYOUT,
  GGMLType,
  type ModelHparams,
  type TensorInfo,
} from '../engine/gguf/types.ts';
import type { ComputePrecision, WeightPrecision } from './types.ts';

const FLOAT_TYPES = new Set([GGMLType.F32, GGMLType.F16, GGMLType.BF16]);
const Q8_0_VALUES = 32;

/**
 * The type a tensor has once loaded: with INT8 weights, every F16/BF16/F32 matrix whose rows are
 * whole Q8_0 blocks is quantized to Q8_0 (vectors stay f32, as the engine widens them anyway).
 */
export function typeOnLoad(tensor: TensorInfo, weights: WeightPrecision): GGMLType {
  const isMatrix = tensor.dims.length >= 2 && tensor.dims.slice(1).some((d) => d > 1);
  const quantize =
    weights === 'q8_0' &&
    isMatrix &&
    FLOAT_TYPES.has(tensor.type) &&
    tensor.dims[0] % Q8_0_VALUES === 0;
  return quantize ? GGMLType.Q8_0 : tensor.type;
}

/** The tensors as the engine holds them after loading with `weights`. */
export function tensorsOnLoad(tensors: TensorInfo[], weights: WeightPrecision): TensorInfo[] {
  return tensors.map((t) => {
    const type = typeOnLoad(t, weights);
    if (type === t.type) return t;
    const count = t.dims.reduce((a, b) => a * b, 1);
    const layout = BLOCK_LAYOUT[type]!;
    return { ...t, type, bytes: (count / layout.values) * layout.bytes };
  });
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
