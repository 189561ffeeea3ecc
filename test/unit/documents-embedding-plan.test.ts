// The planner plans an embedding model like any other GGUF: a Qwen3-Embedding-0.6B-shaped header
// (Qwen3-0.6B's shapes with `qwen3.pooling_type` = last) stays fully resident on an 8 GB GPU
// beside a Llama-3.1-8B Q4_K_M chat model planned first (4096-token context), within what the
// chat model leaves.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { poolingOf } from '../../src/engine/gguf/embedding.ts';
import { parseHeader } from '../../src/engine/gguf/header.ts';
import { bytesSource } from '../../src/engine/gguf/source.ts';
import { parseDeviceFile, withUserBudget } from '../../src/plan/device.ts';
import { planModel } from '../../src/plan/planner.ts';
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
