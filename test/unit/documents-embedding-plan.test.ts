// The planner plans an embedding model like any other GGUF: a Qwen3-Embedding-0.6B-shaped header
// (Qwen3-0.6B's shapes with `qwen3.pooling_type` = last) stays fully resident on an 8 GB GPU
// beside a Llama-3.1-8B Q4_K_M chat model planned first (4096-token context), within what the
// chat model leaves; so does a bge-small-en-v1.5-shaped BERT encoder, with no KV cache and the
// encoder's own scratch buffers.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { engineBufferPlan } from '../../src/engine/gguf/buffer-plan.ts';
import { poolingOf } from '../../src/engine/gguf/embedding.ts';
import { encoderBuffers } from '../../src/engine/gguf/encoder-plan.ts';
import { parseHeader } from '../../src/engine/gguf/header.ts';
import { bytesSource } from '../../src/engine/gguf/source.ts';
import { parseDeviceFile, withUserBudget } from '../../src/plan/device.ts';
import { planModel } from '../../src/plan/planner.ts';
import { encoderHeaderOnly } from '../fixtures/gguf/encoders.ts';
import { u32, writeGguf } from '../fixtures/gguf/writer.ts';
import {
  realShape,
  realShapeHeader,
  realShapeMetadata,
  realShapeTensors,
} from '../fixtures/real-shapes.ts';

async function embeddingHeader() {
  const shape = { ...realShape('Qwen3-0.6B-F16'), id: 'Qwen3-Embedding-0.6B-F16' };
  const metadata = { ...realShapeMetadata(shape), 'qwen3.pooling_type': u32(3) };
  const bytes = writeGguf(metadata, realShapeTensors(shape), { headerOnly: true }).bytes;
  return parseHeader(bytesSource(bytes, `${shape.id}.gguf`), { allowMissingData: true });
}

describe('documents: planning an embedding model', () => {
  it('plans it fully resident beside the chat model, in what the chat model leaves', async () => {
    const device = parseDeviceFile(
      JSON.parse(readFileSync('devices/discrete-8gb.json', 'utf8')),
      'discrete-8gb.json',
    );
    const chat = planModel(await realShapeHeader('Llama-3.1-8B-Q4_K_M'), [device], {
      contextTokens: 4096,
    });
    expect(chat.fits).toBe('full');
    const header = await embeddingHeader();
    expect(poolingOf(header)).toBe('last');
    const left = device.memoryBudget.value - chat.bytes.gpu.total;
    const plan = planModel(header, [withUserBudget(device, left)], { contextTokens: 1024 });
    expect(plan.fits).toBe('full');
    expect(plan.layers).toMatchObject({ total: 28, resident: 28, streamed: 0 });
    expect(plan.bytes.gpu.total).toBeLessThanOrEqual(left);
    // The same model with a budget below its weights is planned partly streamed, as any model is.
    const tight = planModel(header, [withUserBudget(device, plan.bytes.gpu.weights / 3)], {
      contextTokens: 1024,
    });
    expect(tight.fits).not.toBe('full');
  });
});

describe('documents: planning a BERT embedding model', () => {
  it('plans bge-small fully resident beside the chat model, with no KV cache', async () => {
    const bytes = encoderHeaderOnly({
      id: 'bge-small-en-v1.5-F16',
      architecture: 'bert',
      pooling: 2,
      embd: 384,
      ff: 1536,
      heads: 12,
      layers: 12,
      context: 512,
      vocab: 30522,
    });
    const header = await parseHeader(bytesSource(bytes, 'bge-small-en-v1.5-f16.gguf'), {
      allowMissingData: true,
    });
    expect(poolingOf(header)).toBe('cls');
    const device = parseDeviceFile(
      JSON.parse(readFileSync('devices/discrete-8gb.json', 'utf8')),
      'discrete-8gb.json',
    );
    const chat = planModel(await realShapeHeader('Llama-3.1-8B-Q4_K_M'), [device], {
      contextTokens: 4096,
    });
    const left = device.memoryBudget.value - chat.bytes.gpu.total;
    const plan = planModel(header, [withUserBudget(device, left)], { contextTokens: 512 });
    expect(plan.fits).toBe('full');
    expect(plan.layers).toMatchObject({ total: 12, resident: 12, streamed: 0 });
    expect(plan.kvBytesPerToken).toBe(0);
    expect(plan.bytes.gpu.kv).toBe(0);
    // The scratch is the encoder's: activations for a 512-token pass, nothing per vocabulary row.
    const scratch = encoderBuffers(header.hparams, { contextTokens: 512 }).reduce(
      (a, b) => a + b.bytes,
      0,
    );
    expect(plan.bytes.gpu.scratch).toBe(scratch);
    expect(
      engineBufferPlan(header.hparams, { contextTokens: 512, computePrecision: 'f16' }),
    ).toMatchObject({ kvBytes: 0, scratchBytes: scratch, prefillChunk: 512 });
    // F16 weights: about 33M parameters at two bytes each.
    expect(plan.bytes.gpu.weights).toBeGreaterThan(60e6);
    expect(plan.bytes.gpu.weights).toBeLessThan(72e6);
    expect(plan.bytes.gpu.total).toBeLessThanOrEqual(left);
  });
});
