// The tensors each architecture needs, with the shapes its hyper-parameters imply, so a file that
// lacks one or has it in the wrong shape is refused before anything is allocated or uploaded.

import { GgufFormatError } from './errors.ts';
import type { ModelHparams, TensorInfo } from './types.ts';

interface Expected {
  name: string;
  dims: number[];
  optional?: boolean;
}

export function expectedTensors(h: ModelHparams): Expected[] {
  const qWidth = h.headCount * h.keyLength;
  const kWidth = h.headCountKv * h.keyLength;
  const vWidth = h.headCountKv * h.valueLength;
  const list: Expected[] = [
    { name: 'token_embd.weight', dims: [h.embeddingLength, h.vocabSize] },
    { name: 'output_norm.weight', dims: [h.embeddingLength] },
    { name: 'output.weight', dims: [h.embeddingLength, h.vocabSize], optional: true },
    { name: 'rope_freqs.weight', dims: [h.ropeDims / 2], optional: true },
  ];
  const biasOptional = h.architecture !== 'qwen2';
  for (let i = 0; i < h.blockCount; i++) {
    const b = `blk.${i}.`;
    list.push(
      { name: `${b}attn_norm.weight`, dims: [h.embeddingLength] },
      { name: `${b}attn_q.weight`, dims: [h.embeddingLength, qWidth] },
      { name: `${b}attn_k.weight`, dims: [h.embeddingLength, kWidth] },
      { name: `${b}attn_v.weight`, dims: [h.embeddingLength, vWidth] },
      { name: `${b}attn_output.weight`, dims: [h.headCount * h.valueLength, h.embeddingLength] },
      { name: `${b}ffn_norm.weight`, dims: [h.embeddingLength] },
      { name: `${b}ffn_gate.weight`, dims: [h.embeddingLength, h.feedForwardLength] },
      { name: `${b}ffn_up.weight`, dims: [h.embeddingLength, h.feedForwardLength] },
      { name: `${b}ffn_down.weight`, dims: [h.feedForwardLength, h.embeddingLength] },
      { name: `${b}attn_q.bias`, dims: [qWidth], optional: biasOptional },
      { name: `${b}attn_k.bias`, dims: [kWidth], optional: biasOptional },
      { name: `${b}attn_v.bias`, dims: [vWidth], optional: biasOptional },
    );
    if (h.architecture === 'qwen3') {
      list.push(
        { name: `${b}attn_q_norm.weight`, dims: [h.keyLength] },
        { name: `${b}attn_k_norm.weight`, dims: [h.keyLength] },
      );
    }
  }
  return list;
}

function trimmed(dims: number[]): number[] {
  const out = [...dims];
  while (out.length > 1 && out[out.length - 1] === 1) out.pop();
  return out;
}

export function checkTensorLayout(h: ModelHparams, tensors: TensorInfo[]): void {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const want of expectedTensors(h)) {
    const have = byName.get(want.name);
    if (!have) {
      if (want.optional) continue;
      throw new GgufFormatError(
        'missing-tensor',
        `Tensor "${want.name}" is missing: a ${h.architecture} model with ${h.blockCount} layers needs it; the file is incomplete or not a ${h.architecture} model.`,
        want.name,
      );
    }
    const got = trimmed(have.dims);
    if (got.length !== want.dims.length || got.some((d, i) => d !== want.dims[i])) {
      throw new GgufFormatError(
        'shape-mismatch',
        `Tensor "${want.name}" has shape [${have.dims.join(', ')}] but the metadata implies [${want.dims.join(', ')}]: the header and the weights disagree; the file is damaged or was converted wrongly.`,
        want.name,
      );
    }
  }
}
