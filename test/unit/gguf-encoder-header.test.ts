// BERT-family headers: the hyper-parameters an encoder reads (LayerNorm epsilon, token types), its
// tensor schema, and clear refusals of files llama.cpp would refuse too.
import { describe, expect, it } from 'vitest';
import { GgufFormatError } from '../../src/engine/gguf/errors.ts';
import { parseHeader } from '../../src/engine/gguf/header.ts';
import { bytesSource } from '../../src/engine/gguf/source.ts';
import { buildEncoderFixture, ENCODER_FIXTURES } from '../fixtures/gguf/encoders.ts';
import { writeGguf, type MetaInput, type TensorInput } from '../fixtures/gguf/writer.ts';

function fixture(id: string) {
  return buildEncoderFixture(ENCODER_FIXTURES.find((f) => f.id === id)!);
}

function parse(metadata: Record<string, MetaInput>, tensors: TensorInput[]) {
  return parseHeader(bytesSource(writeGguf(metadata, tensors).bytes, 'encoder.gguf'));
}

async function refusal(metadata: Record<string, MetaInput>, tensors: TensorInput[]) {
  const error = await parse(metadata, tensors).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GgufFormatError);
  return error as GgufFormatError;
}

describe('encoder headers', () => {
  it('reads LayerNorm epsilon and the token-type count of a bert file', async () => {
    const { metadata, tensors } = fixture('bert-embed-mean-f32');
    const h = (await parse(metadata, tensors)).hparams;
    expect(h).toMatchObject({
      architecture: 'bert',
      embeddingLength: 128,
      headCount: 4,
      headCountKv: 4,
      keyLength: 32,
      contextLength: 128,
      tokenTypes: 2,
    });
    expect(h.rmsEpsilon).toBeCloseTo(1e-12, 18);
  });

  it('refuses a file without a token-type count, naming the key', async () => {
    const { metadata, tensors } = fixture('bert-embed-cls-f32');
    const { 'tokenizer.ggml.token_type_count': _, ...rest } = metadata;
    const error = await refusal(rest, tensors);
    expect(error.message).toMatch(/tokenizer\.ggml\.token_type_count/);
  });

  it('refuses a bert file without learned positions', async () => {
    const { metadata, tensors } = fixture('bert-embed-mean-f32');
    const error = await refusal(
      metadata,
      tensors.filter((t) => t.name !== 'position_embd.weight'),
    );
    expect(error.message).toMatch(/position_embd\.weight.*missing/);
  });

  it('refuses a nomic-bert file that carries learned positions', async () => {
    const bert = fixture('bert-embed-mean-f32');
    const { metadata, tensors } = fixture('nomic-bert-embed-f32');
    const positions = bert.tensors.find((t) => t.name === 'position_embd.weight')!;
    const error = await refusal(metadata, [...tensors, positions]);
    expect(error.message).toMatch(/position_embd\.weight.*not part of a nomic-bert model/);
  });

  it('refuses a layer norm without its bias', async () => {
    const { metadata, tensors } = fixture('nomic-bert-embed-f32');
    const error = await refusal(
      metadata,
      tensors.filter((t) => t.name !== 'blk.1.attn_output_norm.bias'),
    );
    expect(error.message).toMatch(/blk\.1\.attn_output_norm\.bias.*missing/);
  });
});
