// The GPU sampler and top-logits kernels against a CPU reference of the same rules: greedy argmax
// with the repetition penalty, top-k / top-p / min-p with temperature, drawn at chosen points of
// the reference's cumulative distribution, and the K best raw logits in order. The vocabulary
// spans several sampler slices, the last one partial; every output buffer is poisoned first.
import { describe, expect, it } from 'vitest';
import { openTestDevice, poison, random, readBuffer, storageBuffer } from '../harness';
import { topLogitsKernel } from '../../../src/engine/gguf/kernels/fixed';
import { sampleStages } from '../../../src/engine/gguf/kernels/sample';
import { PipelineCache } from '../../../src/engine/gguf/kernels/pipeline';
import { packStruct, SAMPLING } from '../../../src/engine/gguf/kernels/host-structs';
import {
  HISTORY_RING,
  SAMPLE_SLICE,
  samplePartialWords,
} from '../../../src/engine/gguf/buffer-plan';

const V = 2 * SAMPLE_SLICE + 111;

interface Params {
  greedy: boolean;
  topK: number;
  history: number[];
  topLogits: number;
  temperature: number;
  topP: number;
  minP: number;
  penalty: number;
  u: number;
}

/** The history sits at the start of the ring, so it ends at its own length. */
function uniform(p: Params): ArrayBuffer {
  return packStruct(SAMPLING, {
    greedy: p.greedy ? 1 : 0,
    top_k: p.topK,
    history: p.history.length,
    top_logits: p.topLogits,
    temperature: p.temperature,
    top_p: p.topP,
    min_p: p.minP,
    penalty: p.penalty,
    uniform01: p.u,
    history_end: p.history.length,
  });
}

/** The reference's kept tokens (id, weight) in id order, for sampling params `p`. */
function keptWeights(logits: Float32Array, p: Params): [number, number][] {
  const z = Array.from(logits);
  const max = Math.max(...z);
  const prob = z.map((v) => Math.fround(Math.exp(v - max)));
  const order = prob.map((v, i) => i).sort((a, b) => prob[b] - prob[a] || a - b);
  let kept = p.topK > 0 ? order.slice(0, p.topK) : order;
  if (p.topP < 1) {
    const total = kept.reduce((a, i) => a + prob[i], 0);
    let cum = 0;
    const prefix: number[] = [];
    for (const i of kept) {
      prefix.push(i);
      cum += prob[i];
      if (cum >= p.topP * total) break;
    }
    kept = prefix;
  }
  kept = kept.filter((i) => prob[i] >= p.minP);
  return kept.sort((a, b) => a - b).map((i) => [i, Math.exp(Math.log(prob[i]) / p.temperature)]);
}

describe.each(['swiftshader', 'lavapipe'] as const)('GPU sampler on %s', (adapter) => {
  it('greedy with repetition penalty, filtered draws, and the top logits', async () => {
    const { device } = await openTestDevice(adapter);
    const cache = new PipelineCache(device);
    const compile = (greedy: boolean) =>
      Promise.all(
        sampleStages(V, greedy).map(async (s) => ({
          kernel: await cache.get(s.variant),
          x: s.workgroups,
        })),
      );
    const stages = await compile(false);
    const greedyStages = await compile(true);
    const top = await cache.get(topLogitsKernel(V), 'top-logits');
    const next = random(31);
    const logitsData = Float32Array.from({ length: V }, () => next() * 8 - 4);
    const logits = storageBuffer(device, logitsData);
    const work = storageBuffer(device, V * 4);
    const partials = storageBuffer(device, samplePartialWords(V) * 4);
    const result = storageBuffer(device, 4 * 17);
    const params = device.createBuffer({
      size: SAMPLING.bytes,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    const history = storageBuffer(device, HISTORY_RING * 4);
    const draw = async (p: Params, withTop = false): Promise<Uint32Array> => {
      device.queue.writeBuffer(params, 0, uniform(p));
      device.queue.writeBuffer(history, 0, new Uint32Array(p.history.length ? p.history : [0]));
      poison(device, work);
      poison(device, partials);
      poison(device, result);
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      for (const stage of p.greedy ? greedyStages : stages) {
        pass.setPipeline(stage.kernel.pipeline);
        pass.setBindGroup(
          0,
          cache.bindGroup(stage.kernel, [
            { buffer: params },
            { buffer: logits },
            { buffer: history },
            { buffer: work },
            { buffer: partials },
            { buffer: result },
          ]),
        );
        pass.dispatchWorkgroups(stage.x);
      }
      if (withTop) {
        pass.setPipeline(top.pipeline);
        pass.setBindGroup(
          0,
          cache.bindGroup(top, [{ buffer: params }, { buffer: logits }, { buffer: result }]),
        );
        pass.dispatchWorkgroups(1);
      }
      pass.end();
      device.queue.submit([encoder.finish()]);
      return new Uint32Array(await readBuffer(device, result));
    };
    const base: Params = {
      greedy: true,
      topK: 0,
      history: [],
      topLogits: 8,
      temperature: 0,
      topP: 1,
      minP: 0,
      penalty: 1,
      u: 0,
    };
    const ranked = Array.from(logitsData.keys()).sort(
      (a, b) => logitsData[b] - logitsData[a] || a - b,
    );

    const greedy = await draw(base, true);
    expect(greedy[0]).toBe(ranked[0]);
    for (let k = 0; k < 8; k++) {
      expect(greedy[1 + 2 * k], `top logit ${k} id`).toBe(ranked[k]);
      expect(new Float32Array(greedy.buffer)[2 + 2 * k]).toBe(logitsData[ranked[k]]);
    }
    // A strong penalty on the best two (listed twice: applied once) hands the win to the third,
    // unless the penalized values still lead.
    const penalized = Array.from(logitsData);
    for (const id of [ranked[0], ranked[1]]) {
      penalized[id] = penalized[id] > 0 ? penalized[id] / 4 : penalized[id] * 4;
    }
    const expectedPenalized = penalized.indexOf(Math.max(...penalized));
    const withPenalty = await draw({
      ...base,
      penalty: 4,
      history: [ranked[0], ranked[1], ranked[0]],
    });
    expect(withPenalty[0]).toBe(expectedPenalized);
    expect(expectedPenalized).not.toBe(ranked[0]);
    // The choice is appended to the history ring right after the window it was penalized by.
    const ring = new Uint32Array(await readBuffer(device, history));
    expect(ring[3]).toBe(expectedPenalized);

    for (const filter of [
      { topK: 7, topP: 1, minP: 0, temperature: 0.7 },
      { topK: 0, topP: 0.03, minP: 0, temperature: 1.5 },
      { topK: 40, topP: 0.9, minP: 0.2, temperature: 1 },
    ]) {
      const p = { ...base, greedy: false, ...filter };
      const kept = keptWeights(logitsData, p);
      expect(kept.length).toBeGreaterThan(1);
      expect(kept.length).toBeLessThan(64);
      const total = kept.reduce((a, [, w]) => a + w, 0);
      let cum = 0;
      for (const [id, w] of kept) {
        const u = (cum + w / 2) / total;
        cum += w;
        const got = await draw({ ...p, u });
        expect(got[0], `${JSON.stringify(filter)} at u=${u.toFixed(4)}`).toBe(id);
      }
    }
    device.destroy();
  });
});
