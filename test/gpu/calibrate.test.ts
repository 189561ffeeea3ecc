// The calibration probe on dawn.node SwiftShader: allocates fixed chunks up to the target and
// keeps them, stops cleanly at an out-of-memory error, and measures upload and weight read rates
// with a matrix-vector kernel that computes the right thing.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrate, createMatvecProbe, MATVEC_ROW_BYTES } from '../../src/gpu/calibrate.ts';
import type { EngineDevice } from '../../src/gpu/device.ts';
import { describeAdapter, figuresFromCalibration } from '../../src/plan/device.ts';
import { realShape, realShapeFile } from '../fixtures/real-shapes.ts';
import { openTestDevice, poison, random, readBuffer } from './harness.ts';

const MiB = 2 ** 20;

describe('calibration probe on SwiftShader', () => {
  let engine: EngineDevice;
  beforeAll(async () => {
    engine = await openTestDevice('swiftshader');
  });
  afterAll(() => engine.device.destroy());

  it('allocates fixed chunks up to the target, clears them, and keeps them alive', async () => {
    const { device } = engine;
    const result = await calibrate(device, { targetBytes: 80 * MiB, chunkBytes: 32 * MiB });
    expect(result.stoppedBy).toBe('target');
    expect(result.allocatedBytes).toBe(80 * MiB);
    expect(result.chunks.map((c) => c.size)).toEqual([32 * MiB, 32 * MiB, 16 * MiB]);
    // The last chunk is usable and was cleared to zero by the probe.
    const last = result.chunks[2];
    const probe = device.createBuffer({
      size: 4096,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | GPUBufferUsage.STORAGE,
    });
    poison(device, probe);
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(last, last.size - 4096, probe, 0, 4096);
    device.queue.submit([encoder.finish()]);
    expect(new Uint32Array(await readBuffer(device, probe)).every((w) => w === 0)).toBe(true);
    expect(result.uploadBytesPerSecond).toBeGreaterThan(1e8);
    expect(result.computeBytesPerSecond).toBeGreaterThan(1e6);
    expect(result.roundTripSeconds).toBeGreaterThan(0);
    expect(result.roundTripSeconds).toBeLessThan(1);
    const device2 = describeAdapter(
      {
        name: 'SwiftShader',
        adapterClass: 'software',
        limits: device.limits as unknown as Record<string, number>,
        features: [],
      },
      figuresFromCalibration(result),
    );
    expect(device2.memoryBudget).toMatchObject({ value: 80 * MiB, source: 'calibration' });
    expect(device2.uploadBandwidth).toMatchObject({
      value: result.uploadBytesPerSecond,
      source: 'measured',
    });
    expect(device2.computeRate).toMatchObject({
      value: result.computeBytesPerSecond,
      source: 'measured',
    });
    expect(device2.tokenOverhead?.value).toBe(result.roundTripSeconds);
    for (const c of result.chunks) c.destroy();
    probe.destroy();
  });

  it('stops at the first out-of-memory error and keeps what it had', async () => {
    const { device } = engine;
    let scopes = 0;
    // Dawn will not run out of memory on request, so the third chunk's OOM scope reports one.
    const failing = new Proxy(device, {
      get(target, prop) {
        if (prop === 'popErrorScope') {
          return async () => {
            const real = await target.popErrorScope();
            scopes++;
            return scopes === 5 ? ({ message: 'Out of memory (injected)' } as GPUError) : real;
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const result = await calibrate(failing, {
      targetBytes: 128 * MiB,
      chunkBytes: 16 * MiB,
      measureCompute: false,
    });
    expect(result).toMatchObject({
      stoppedBy: 'out-of-memory',
      allocatedBytes: 32 * MiB,
      stopMessage: 'Out of memory (injected)',
    });
    expect(result.chunks).toHaveLength(2);
    expect(result.computeBytesPerSecond).toBeNull();
    for (const c of result.chunks) c.destroy();
  });

  it('refuses chunks larger than a buffer may be', async () => {
    await expect(
      calibrate(engine.device, {
        targetBytes: MiB,
        chunkBytes: engine.device.limits.maxBufferSize + 4,
      }),
    ).rejects.toThrow(/use a multiple of 4 up to this device's maxBufferSize/);
  });

  it('times a matrix-vector kernel that matches an f64 reference', async () => {
    const { device } = engine;
    const rows = 70;
    const next = random(42);
    const weights = new Int8Array(rows * MATVEC_ROW_BYTES).map(
      () => Math.floor(next() * 256) - 128,
    );
    const x = new Float32Array(MATVEC_ROW_BYTES).map(() => next() * 2 - 1);
    const probe = createMatvecProbe(device, rows);
    device.queue.writeBuffer(probe.weights, 0, weights);
    device.queue.writeBuffer(probe.input, 0, x);
    poison(device, probe.output);
    const encoder = device.createCommandEncoder();
    probe.encode(encoder);
    device.queue.submit([encoder.finish()]);
    const y = new Float32Array(await readBuffer(device, probe.output));
    for (let r = 0; r < rows; r++) {
      let expected = 0;
      let scale = 0;
      for (let c = 0; c < MATVEC_ROW_BYTES; c++) {
        expected += weights[r * MATVEC_ROW_BYTES + c] * x[c];
        scale += Math.abs(weights[r * MATVEC_ROW_BYTES + c] * x[c]);
      }
      expect(Math.abs(y[r] - expected) / scale, `row ${r}`).toBeLessThan(1e-5);
    }
  });
});

describe('plan CLI without a device file', () => {
  it('plans for this machine’s adapter through dawn.node', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plan-gpu-'));
    const model = join(dir, 'qwen3.gguf');
    writeFileSync(model, realShapeFile(realShape('Qwen3-0.6B-F16')));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        './src/cli/register.mjs',
        'src/cli/plan.ts',
        '--model',
        model,
        '--context',
        '4096',
        '--json',
      ],
      {
        timeout: 120_000,
        env: { ...process.env, VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json' },
      },
    );
    const plan = JSON.parse(stdout);
    expect(plan.precision.compute).toBe('f32');
    expect(plan.reasons.join(' ')).toMatch(
      /Memory budget on SwiftShader.*software adapter: half of navigator.deviceMemory/,
    );
    expect(plan.fits).not.toBe('none');
  });
});
