import { describe, expect, it } from 'vitest';
import { f32ToF16Bits, roundToF16 } from '../../src/engine/gguf/half';
import {
  ADAPTERS,
  openTestDevice,
  poison,
  random,
  readBuffer,
  runCompute,
  storageBuffer,
} from './harness';

const N = 1000;

const SAXPY_F32 = /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i < ${N}u) { out[i] = 2.5 * x[i] + y[i] * y[i]; }
}`;

const SAXPY_F16 = /* wgsl */ `
enable f16;
@group(0) @binding(0) var<storage, read> x: array<f16>;
@group(0) @binding(1) var<storage, read> y: array<f16>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i < ${N}u) { out[i] = f32(x[i] * y[i] + x[i]); }
}`;

function randomInputs(seed: number): [Float32Array, Float32Array] {
  const next = random(seed);
  const x = Float32Array.from({ length: N }, () => next() * 4 - 2);
  const y = Float32Array.from({ length: N }, () => next() * 4 - 2);
  return [x, y];
}

describe.each(ADAPTERS)('GPU harness on %s', (adapter) => {
  it('runs an f32 kernel that matches the CPU element by element', async () => {
    const { device } = await openTestDevice(adapter);
    const [x, y] = randomInputs(7);
    const out = storageBuffer(device, N * 4);
    poison(device, out);
    await runCompute(
      device,
      SAXPY_F32,
      [storageBuffer(device, x), storageBuffer(device, y), out],
      Math.ceil(N / 64),
    );
    const result = new Float32Array(await readBuffer(device, out));
    for (let i = 0; i < N; i++) {
      const expected = Math.fround(Math.fround(2.5 * x[i]) + Math.fround(y[i] * y[i]));
      expect(Math.abs(result[i] - expected), `element ${i}`).toBeLessThanOrEqual(
        1e-6 * Math.max(1, Math.abs(expected)),
      );
    }
    device.destroy();
  });

  it('reports shader-f16 exactly as the adapter does', async () => {
    const { device, features } = await openTestDevice(adapter);
    expect(features.has('shader-f16')).toBe(adapter === 'lavapipe');
    device.destroy();
  });
});

describe('GPU harness in f16 on lavapipe', () => {
  it('runs an f16 kernel that matches a CPU computation rounded to f16', async () => {
    const { device, features } = await openTestDevice('lavapipe');
    expect(features.has('shader-f16')).toBe(true);
    const [x32, y32] = randomInputs(11);
    const x = Uint16Array.from(x32, f32ToF16Bits);
    const y = Uint16Array.from(y32, f32ToF16Bits);
    const out = storageBuffer(device, N * 4);
    poison(device, out);
    await runCompute(
      device,
      SAXPY_F16,
      [storageBuffer(device, x), storageBuffer(device, y), out],
      Math.ceil(N / 64),
    );
    const result = new Float32Array(await readBuffer(device, out));
    for (let i = 0; i < N; i++) {
      const xi = roundToF16(x32[i]);
      const expected = roundToF16(roundToF16(xi * roundToF16(y32[i])) + xi);
      // f16 has an 11-bit significand; two roundings allow about 2 ulp.
      expect(Math.abs(result[i] - expected), `element ${i}`).toBeLessThanOrEqual(
        2 ** -9 * Math.max(1, Math.abs(expected)),
      );
    }
    device.destroy();
  });
});
