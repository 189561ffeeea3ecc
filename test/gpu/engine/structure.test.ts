// Structure that makes decoding fast on real GPUs, checked on the largest fixture by counting what
// the engine actually submits: one queue submission and at most 9 dispatches per layer per decode
// token, each weight read once; and row splitting under a small binding cap changes no logit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureFixture } from '../../fixtures/gguf/ensure';
import { openTestDevice } from '../harness';
import { greedyRun, loadFixtureModel } from './oracle-helpers';
import { TokenGenerator, type DecodeStats } from '../../../src/engine/gguf/generate';
import { GREEDY } from '../../../src/engine/engine';
import { engineBufferPlan, SAMPLED_RING } from '../../../src/engine/gguf/buffer-plan';
import type { EngineDevice } from '../../../src/gpu/device';

const FIXTURE = 'largest-q4_k_m';

interface Counts {
  submissions: number;
  dispatches: number;
}

/** Counts queue submissions and compute dispatches the device receives. */
function instrument(device: GPUDevice): Counts {
  const counts: Counts = { submissions: 0, dispatches: 0 };
  const queue = device.queue;
  const submit = queue.submit.bind(queue);
  queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
    counts.submissions++;
    submit(buffers);
  };
  const createEncoder = device.createCommandEncoder.bind(device);
  device.createCommandEncoder = (descriptor?: GPUCommandEncoderDescriptor) => {
    const encoder = createEncoder(descriptor);
    const beginPass = encoder.beginComputePass.bind(encoder);
    encoder.beginComputePass = (d?: GPUComputePassDescriptor) => {
      const pass = beginPass(d);
      const dispatch = pass.dispatchWorkgroups.bind(pass);
      pass.dispatchWorkgroups = (x: number, y?: number, z?: number) => {
        counts.dispatches++;
        dispatch(x, y, z);
      };
      return pass;
    };
    return encoder;
  };
  return counts;
}

describe('decode structure on the largest fixture (SwiftShader, f32)', () => {
  let engineDevice: EngineDevice;
  let path: string;
  beforeAll(async () => {
    path = ensureFixture(FIXTURE);
    engineDevice = await openTestDevice('swiftshader');
  });
  afterAll(() => engineDevice.device.destroy());

  it('one submission and at most 9 dispatches per layer per decode token, each weight read once', async () => {
    const device = engineDevice.device;
    // f32 inputs, as GPUs run: on CPU-backed adapters, 8-bit inputs add a quantize pass before each
    // product whose input no pass before it writes (docs/performance.md).
    const model = await loadFixtureModel(device, path, { lanesPerRow: 1, q8Inputs: false });
    // Every scratch and KV buffer is the planner's: engineBufferPlan with the load's options.
    const plan = engineBufferPlan(model.hparams, { contextTokens: 256, computePrecision: 'f32' });
    expect([...model.scratch.keys()].sort()).toEqual(plan.buffers.map((b) => b.name).sort());
    for (const b of plan.buffers) expect(model.scratch.get(b.name)!.size, b.name).toBe(b.bytes);
    const counts = instrument(device);
    const generator = new TokenGenerator(model);
    /** Counts when each token reached the caller. */
    const seen: Counts[] = [];
    const ids: number[] = [];
    let stats: DecodeStats | undefined;
    const prompt = [1, 2, 3, 4, 5, 6, 7, 8];
    const maxTokens = 6;
    for await (const token of generator.generate(
      prompt,
      { maxTokens, sampling: GREEDY },
      (s) => (stats = s),
    )) {
      expect(token.id).toBeGreaterThanOrEqual(0);
      seen.push({ ...counts });
      ids.push(token.id);
    }
    expect(seen).toHaveLength(maxTokens);
    // One submission for the 8-token prefill, then exactly one per decode token, with no other
    // submission (a readback wait would be one) anywhere.
    expect(counts.submissions).toBe(1 + (maxTokens - 1));
    expect(stats!.submissionsPerToken).toBe(1);
    // No stall per token: when the first token reaches the caller, the passes of the next ones
    // are already submitted, as deep as the readback ring.
    expect(seen[0].submissions).toBe(1 + (SAMPLED_RING - 1));
    const layers = model.hparams.blockCount;
    // Embedding, output norm, output layer and the greedy sampler's two stages are outside the
    // layers.
    const outside = 3 + 2;
    // Two norms, q/k/v, RoPE, attention split and reduce, its output, gate/up and down.
    expect((stats!.dispatchesPerToken - outside) / layers).toBeLessThanOrEqual(9);
    // The last token's pass was never needed, so the cache holds the prompt and the rest.
    expect(generator.cached).toEqual([...prompt, ...ids.slice(0, maxTokens - 1)]);
    // Untied, so the output layer is not the embedding and every decode reads all but the embedding.
    expect(model.header.tensors.some((t) => t.name === 'output.weight')).toBe(true);
    const outsideEmbedding = model.header.tensors
      .filter((t) => t.name !== 'token_embd.weight')
      .reduce((a, t) => a + t.bytes, 0);
    expect(Math.abs(stats!.weightBytesPerToken - outsideEmbedding) / outsideEmbedding).toBeLessThan(
      0.05,
    );
    model.destroy();
  });

  it('splitting big tensors by rows under a small binding cap gives identical logits', async () => {
    const device = engineDevice.device;
    const prompt = [5, 9, 14, 20];
    const whole = await loadFixtureModel(device, path, { lanesPerRow: 1 });
    const expected = await greedyRun(whole, prompt, 4);
    whole.destroy();
    const split = await loadFixtureModel(device, path, {
      lanesPerRow: 1,
      maxBindingBytes: 256 * 1024,
    });
    const parts = [
      ...split.embedding.matrices.values(),
      ...split.head.matrices.values(),
      ...split.layers[0].matrices.values(),
    ].map((m) => m.parts.length);
    expect(Math.max(...parts)).toBeGreaterThan(1);
    const actual = await greedyRun(split, prompt, 4);
    split.destroy();
    expect(actual.tokens).toEqual(expected.tokens);
    for (let i = 0; i < expected.logits.length; i++) {
      expect(Array.from(actual.logits[i])).toEqual(Array.from(expected.logits[i]));
    }
  });
});
