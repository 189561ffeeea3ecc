// Every scratch buffer the encoder (BERT family) allocates, as a pure function of the model's
// hyper-parameters and the context: no KV cache, since a sequence runs whole in one pass, and
// activations for `contextTokens` tokens, the most one pass carries (several short sequences
// packed back to back, or one long one). `engineBufferPlan` returns this plan for encoders, so the
// planner counts what the encoder allocates.
import { ARCHITECTURES } from './architectures';
import { STEP } from './kernels/host-structs';
import { alignUp } from './layout';
import type { ModelHparams } from './types';

export interface EncoderBufferPlanOptions {
  contextTokens: number;
}

export interface EncoderPlannedBuffer {
  name: string;
  category: 'scratch';
  bytes: number;
  usage: 'storage' | 'uniform' | 'readback';
}

export function encoderBuffers(
  h: ModelHparams,
  options: EncoderBufferPlanOptions,
): EncoderPlannedBuffer[] {
  const tokens = options.contextTokens;
  if (!(tokens >= 1)) throw new RangeError(`context (${tokens}) must be at least 1 token`);
  const f32 = 4;
  const e = h.embeddingLength;
  const qkv = h.headCount * h.keyLength + h.headCountKv * (h.keyLength + h.valueLength);
  const buffers: EncoderPlannedBuffer[] = [];
  const scratch = (name: string, bytes: number, usage: EncoderPlannedBuffer['usage'] = 'storage') =>
    buffers.push({ name, category: 'scratch', bytes: alignUp(Math.max(bytes, 16), 16), usage });
  scratch('hidden', tokens * e * f32);
  scratch('qkv', tokens * qkv * f32);
  scratch('attention', tokens * h.headCount * h.valueLength * f32);
  scratch('proj', tokens * e * f32);
  scratch('ffn', tokens * h.feedForwardLength * f32);
  scratch('tokens', tokens * 4);
  // Per token: the first token of its sequence and the one past its last.
  scratch('spans', tokens * 2 * 4);
  // Position (learned) and token-type rows added to the token embeddings, by position.
  scratch('positions', tokens * e * f32);
  if (ARCHITECTURES[h.architecture].encoder?.positions === 'rope') {
    scratch('rope', tokens * (h.ropeDims / 2) * 2 * f32);
  }
  scratch('hidden.readback', tokens * e * f32, 'readback');
  scratch('step', STEP.bytes, 'uniform');
  return buffers;
}
