// The tensors each architecture needs, with the shapes its hyper-parameters imply, so a file that
// lacks one or has it in the wrong shape is refused before anything is allocated or uploaded.

import { ARCHITECTURES } from './architectures.ts';
import { GgufFormatError } from './errors.ts';
import type { ModelHparams, TensorInfo } from './types.ts';

interface Expected {
  name: string;
  dims: number[];
  optional?: boolean;
}

export function expectedTensors(h: ModelHparams): Expected[] {
  const spec = ARCHITECTURES[h.architecture];
  if (spec.encoder) return encoderTensors(h);
  const qWidth = h.headCount * h.keyLength;
  const kWidth = h.headCountKv * h.keyLength;
  const vWidth = h.headCountKv * h.valueLength;
  const embd = h.embeddingLength;
  const ff = h.feedForwardLength;
  const list: Expected[] = [
    { name: 'token_embd.weight', dims: [embd, h.vocabSize] },
    { name: 'output_norm.weight', dims: [embd] },
    { name: 'output.weight', dims: [embd, h.vocabSize], optional: true },
    { name: 'rope_freqs.weight', dims: [h.ropeDims / 2], optional: true },
    { name: 'rope_factors_short.weight', dims: [h.ropeDims / 2], optional: true },
    { name: 'rope_factors_long.weight', dims: [h.ropeDims / 2], optional: true },
  ];
  for (let i = 0; i < h.blockCount; i++) {
    const b = `blk.${i}.`;
    const add = (name: string, dims: number[], optional = false) =>
      list.push({ name: `${b}${name}`, dims, optional });
    add('attn_norm.weight', [embd]);
    if (spec.fusedQkv) add('attn_qkv.weight', [embd, qWidth + kWidth + vWidth]);
    else {
      add('attn_q.weight', [embd, qWidth]);
      add('attn_k.weight', [embd, kWidth]);
      add('attn_v.weight', [embd, vWidth]);
    }
    if (spec.qkvBias !== 'none') {
      const optional = spec.qkvBias === 'optional';
      add('attn_q.bias', [qWidth], optional);
      add('attn_k.bias', [kWidth], optional);
      add('attn_v.bias', [vWidth], optional);
    }
    if (spec.qkNorm) {
      add('attn_q_norm.weight', [h.keyLength]);
      add('attn_k_norm.weight', [h.keyLength]);
    }
    add('attn_output.weight', [h.headCount * h.valueLength, embd]);
    add('ffn_norm.weight', [embd]);
    if (spec.postNorms) {
      add('post_attention_norm.weight', [embd]);
      add('post_ffw_norm.weight', [embd]);
    }
    if (spec.fusedGateUp) add('ffn_up.weight', [embd, 2 * ff]);
    else {
      if (spec.gatedFfn) add('ffn_gate.weight', [embd, ff]);
      add('ffn_up.weight', [embd, ff]);
    }
    add('ffn_down.weight', [ff, embd]);
  }
  return list;
}

/** The BERT family's tensors, as llama.cpp's `bert` and `nomic-bert` loaders create them. */
function encoderTensors(h: ModelHparams): Expected[] {
  const spec = ARCHITECTURES[h.architecture];
  const embd = h.embeddingLength;
  const ff = h.feedForwardLength;
  const qWidth = h.headCount * h.keyLength;
  const kvWidth = h.headCountKv * h.keyLength;
  const list: Expected[] = [
    { name: 'token_embd.weight', dims: [embd, h.vocabSize] },
    { name: 'token_types.weight', dims: [embd, h.tokenTypes ?? 1], optional: true },
    { name: 'token_embd_norm.weight', dims: [embd] },
    { name: 'token_embd_norm.bias', dims: [embd] },
  ];
  if (spec.encoder?.positions === 'learned') {
    list.push({ name: 'position_embd.weight', dims: [embd, h.contextLength] });
    // A classification head some files carry; embeddings never run it.
    list.push({ name: 'cls.weight', dims: [embd, embd], optional: true });
    list.push({ name: 'cls.bias', dims: [embd], optional: true });
  }
  for (let i = 0; i < h.blockCount; i++) {
    const add = (name: string, dims: number[], optional = false) =>
      list.push({ name: `blk.${i}.${name}`, dims, optional });
    if (spec.fusedQkv) {
      add('attn_qkv.weight', [embd, qWidth + 2 * kvWidth]);
      add('attn_qkv.bias', [qWidth + 2 * kvWidth], true);
    } else {
      for (const [part, width] of [
        ['q', qWidth],
        ['k', kvWidth],
        ['v', kvWidth],
      ] as const) {
        add(`attn_${part}.weight`, [embd, width]);
        add(`attn_${part}.bias`, [width], spec.qkvBias !== 'required');
      }
    }
    add('attn_output.weight', [qWidth, embd]);
    add('attn_output.bias', [embd], true);
    add('attn_output_norm.weight', [embd]);
    add('attn_output_norm.bias', [embd]);
    if (spec.gatedFfn) add('ffn_gate.weight', [embd, ff]);
    add('ffn_up.weight', [embd, ff]);
    add('ffn_up.bias', [ff], true);
    add('ffn_down.weight', [ff, embd]);
    add('ffn_down.bias', [embd], true);
    add('layer_output_norm.weight', [embd]);
    add('layer_output_norm.bias', [embd]);
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
  const expected = expectedTensors(h);
  for (const want of expected) {
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
  // llama.cpp refuses a file with tensors its model does not create; so does the engine.
  const names = new Set(expected.map((want) => want.name));
  const stray = tensors.find((t) => !names.has(t.name));
  if (stray) {
    throw new GgufFormatError(
      'unexpected-tensor',
      `Tensor "${stray.name}" is not part of a ${h.architecture} model with ${h.blockCount} layers (the file has ${tensors.length} tensors): the file is damaged or not a ${h.architecture} model.`,
      stray.name,
    );
  }
}
