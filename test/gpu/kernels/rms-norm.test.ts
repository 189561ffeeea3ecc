// The standalone RMSNorm pass against an f64 reference: every token of a pass, or the last alone,
// written once into its own buffer; rows it must not write stay poisoned.
import { describe, expect, it } from 'vitest';
import { openTestDevice, poison, random, readBuffer, storageBuffer } from '../harness';
import { rmsNormKernel } from '../../../src/engine/gguf/kernels/rms-norm';
import type { PassWorkgroup } from '../../../src/engine/gguf/kernels/pass-workgroup';
import { PipelineCache } from '../../../src/engine/gguf/kernels/pipeline';

/** Not a multiple of the workgroup, so some threads take one value more than others. */
const E = 576 + 24;
const NORM_AT = 8;
const EPS = 1e-5;
/** f32 sum of E squares and one inverse square root. */
const TOLERANCE = 4e-5;

async function normalise(
  adapter: 'swiftshader' | 'lavapipe',
  x: Float32Array,
  vecs: Float32Array,
  ntok: number,
  lastToken: boolean,
  workgroup: PassWorkgroup,
): Promise<Float32Array> {
  const { device } = await openTestDevice(adapter, { disableF16: true });
  const cache = new PipelineCache(device);
  const kernel = await cache.get(
    rmsNormKernel({ length: E, normIndex: NORM_AT, eps: EPS, lastToken, workgroup }),
    'rms-norm',
  );
  const step = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(step, 0, new Uint32Array([ntok, 0, 0, 0]));
  const normed = storageBuffer(device, x.byteLength);
  poison(device, normed);
  const bind = cache.bindGroup(kernel, [
    { buffer: step },
    { buffer: storageBuffer(device, x) },
    { buffer: storageBuffer(device, vecs) },
    { buffer: normed },
  ]);
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(1, lastToken ? 1 : ntok);
  pass.end();
  device.queue.submit([encoder.finish()]);
  const out = new Float32Array(await readBuffer(device, normed));
  device.destroy();
  return out;
}

function reference(x: Float32Array, vecs: Float32Array, t: number): Float64Array {
  const v = Float64Array.from(x.subarray(t * E, (t + 1) * E));
  const scale = 1 / Math.sqrt(v.reduce((a, b) => a + b * b, 0) / E + EPS);
  return v.map((a, i) => a * scale * vecs[NORM_AT + i]);
}

describe.each(['swiftshader', 'lavapipe'] as const)('RMSNorm pass on %s', (adapter) => {
  const capacity = 7;
  const ntok = 5;
  const next = random(11);
  const x = Float32Array.from({ length: capacity * E }, () => next() * 6 - 3);
  const vecs = Float32Array.from({ length: NORM_AT + E }, () => next() * 2 - 0.5);

  it.each([
    [false, 64],
    [true, 64],
    [false, 8],
    [true, 8],
  ] as const)('last token only: %s, %i threads per token', async (lastToken, workgroup) => {
    const out = await normalise(adapter, x, vecs, ntok, lastToken, workgroup);
    for (let t = 0; t < capacity; t++) {
      const row = out.subarray(t * E, (t + 1) * E);
      const written = t < ntok && (!lastToken || t === ntok - 1);
      if (!written) {
        expect(row.every(Number.isNaN), `token ${t} left poisoned`).toBe(true);
        continue;
      }
      const ref = reference(x, vecs, t);
      for (let i = 0; i < E; i++) {
        expect(
          Math.abs(row[i] - ref[i]) / (Math.abs(ref[i]) + 1e-30),
          `token ${t} value ${i}`,
        ).toBeLessThan(TOLERANCE);
      }
    }
  });
});
