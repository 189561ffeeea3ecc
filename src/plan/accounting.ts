// Byte accounting from the real tensors of a GGUF header: each layer's packed image at the chosen
// weight precision, the embedding and output tensors, the KV cache and the engine's scratch, and
// what a device holding a range of layers needs on the GPU and in host memory.
import { ENGINE_TYPES, typeName, type ModelHeader } from '../engine/gguf/types.ts';
import {
  engineBuffers,
  kvBytesPerTokenOf,
  packModel,
  tensorsOnLoad,
  type EngineBuffer,
  type PackedModel,
} from './engine-sizes.ts';
import type { ComputePrecision, DeviceDescription, GpuBytes, WeightPrecision } from './types.ts';

export interface ModelAccount extends PackedModel {
  header: ModelHeader;
  weights: WeightPrecision;
  /** No `output.weight`: the embedding doubles as the output layer. */
  tied: boolean;
  /** Why the engine cannot pack the model for these bindings, or null. */
  packingProblem: string | null;
}

/** KV bytes per token of context, as the engine's buffer plan sizes the f16 cache. */
export function kvBytesPerToken(header: ModelHeader): number {
  return kvBytesPerTokenOf(header.hparams);
}

export function accountModel(
  header: ModelHeader,
  weights: WeightPrecision,
  maxBindingBytes: number,
): ModelAccount {
  const layers = header.hparams.blockCount;
  const tied = !header.tensors.some((t) => t.name === 'output.weight');
  const unsupported = header.tensors.find((t) => !ENGINE_TYPES.has(t.type));
  if (unsupported) {
    return {
      header,
      weights,
      tied,
      layerBytes: new Array<number>(layers).fill(0),
      headBytes: 0,
      embeddingBytes: 0,
      ropeBytes: 0,
      packingProblem: `Tensor ${unsupported.name} is stored as ${typeName(unsupported.type)}, which the engine cannot run; choose a file quantized as ${[...ENGINE_TYPES].map(typeName).join(', ')} (or a mix of them such as Q4_K_M).`,
    };
  }
  try {
    const packed = packModel(tensorsOnLoad(header.tensors, weights), layers, maxBindingBytes);
    return { header, weights, tied, ...packed, packingProblem: null };
  } catch (err) {
    return {
      header,
      weights,
      tied,
      layerBytes: new Array<number>(layers).fill(0),
      headBytes: 0,
      embeddingBytes: 0,
      ropeBytes: 0,
      packingProblem: err instanceof Error ? err.message : String(err),
    };
  }
}

/** Everything that stops this account running on this device, whatever the budget. */
export function gateProblems(account: ModelAccount, device: DeviceDescription): string[] {
  if (account.packingProblem) return [account.packingProblem];
  const limit = device.limits.maxBufferSize;
  const problems: string[] = [];
  const groups: [string, number][] = [
    ['The token embedding', account.embeddingBytes],
    ['The output layer with its norm', account.headBytes],
    ...account.layerBytes.map((bytes, layer): [string, number] => [`Layer ${layer}`, bytes]),
  ];
  for (const [what, bytes] of groups) {
    if (bytes > limit && problems.length < 3) {
      problems.push(
        `${what} packs to ${mib(bytes)}, more than ${device.name}'s largest buffer (${mib(limit)}).`,
      );
    }
  }
  return problems;
}

export interface Placement {
  first: number;
  last: number;
  /** The last `resident` layers of the range stay on the GPU. */
  resident: number;
  holdsEmbedding: boolean;
  holdsOutput: boolean;
}

export interface PlacementBytes {
  gpu: GpuBytes;
  hostWeights: number;
  /** Engine buffers larger than a binding or a buffer may be: the context is too long for this device. */
  oversizedBuffer: EngineBuffer | null;
}

export function buffersFor(
  account: ModelAccount,
  contextTokens: number,
  compute: ComputePrecision,
  prefillChunk?: number,
): EngineBuffer[] {
  return engineBuffers(account.header.hparams, { contextTokens, compute, prefillChunk });
}

export function placementBytes(
  account: ModelAccount,
  buffers: EngineBuffer[],
  placement: Placement,
  device: DeviceDescription,
): PlacementBytes {
  const firstResident = placement.last - placement.resident + 1;
  let weights = 0;
  if (placement.holdsEmbedding) weights += account.embeddingBytes;
  if (placement.holdsOutput) {
    weights += account.headBytes;
    if (account.tied && !placement.holdsEmbedding) weights += account.embeddingBytes;
  } else weights += account.ropeBytes;
  let hostWeights = 0;
  let largestStreamed = 0;
  for (let layer = placement.first; layer <= placement.last; layer++) {
    const bytes = account.layerBytes[layer];
    if (layer >= firstResident) weights += bytes;
    else {
      hostWeights += bytes;
      largestStreamed = Math.max(largestStreamed, bytes);
    }
  }
  let kv = 0;
  let scratch = 0;
  let oversizedBuffer: EngineBuffer | null = null;
  const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  for (const b of buffers) {
    if (b.kind === 'kv') {
      if (b.layer === undefined || b.layer < placement.first || b.layer > placement.last) continue;
      kv += b.bytes;
    } else scratch += b.bytes;
    if (b.bytes > limit && !oversizedBuffer) oversizedBuffer = b;
  }
  const slots = 2 * largestStreamed;
  return {
    gpu: { weights, kv, scratch, slots, total: weights + kv + scratch + slots },
    hostWeights,
    oversizedBuffer,
  };
}

export function mib(bytes: number): string {
  const m = bytes / 2 ** 20;
  if (m >= 1024) return `${(m / 1024).toFixed(2)} GiB`;
  return `${m.toFixed(m < 10 ? 1 : 0)} MiB`;
}
