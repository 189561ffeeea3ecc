// Budget estimates and margins, device files, two-device splits, speed predictions and the
// smaller-quantization suggestion.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { accountModel } from '../../src/plan/accounting.ts';
import { budgetReport, estimateBudget, marginBytes, NO_MARGIN } from '../../src/plan/budget.ts';
import {
  describeAdapter,
  lowerBudget,
  parseDeviceFile,
  withUserBudget,
} from '../../src/plan/device.ts';
import { planModel } from '../../src/plan/planner.ts';
import type { DeviceDescription } from '../../src/plan/types.ts';
import { REAL_SHAPES, realShape, realShapeFile, realShapeHeader } from '../fixtures/real-shapes.ts';
import { parseHeader } from '../../src/engine/gguf/header.ts';
import { bytesSource } from '../../src/engine/gguf/source.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

const base = describeAdapter({
  name: 'dGPU',
  adapterClass: 'discrete',
  limits: { maxStorageBufferBindingSize: 2 ** 31 - 4, maxBufferSize: 2 ** 32 },
  features: ['shader-f16'],
});
const igpu = describeAdapter({
  name: 'iGPU',
  adapterClass: 'integrated',
  limits: { maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 31 },
  features: ['shader-f16'],
});

function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('budget', () => {
  it('takes the person’s figure over calibration over the estimate, and says so', () => {
    const all = {
      adapterClass: 'discrete' as const,
      deviceMemoryGiB: 8,
      calibratedBytes: 3 * GiB,
      userBytes: 5 * GiB,
    };
    expect(estimateBudget(all)).toMatchObject({ value: 5 * GiB, source: 'user' });
    expect(estimateBudget({ ...all, userBytes: undefined })).toMatchObject({
      value: 3 * GiB,
      source: 'calibration',
    });
    expect(estimateBudget({ adapterClass: 'discrete', deviceMemoryGiB: 8 })).toMatchObject({
      value: 4 * GiB,
      source: 'estimate',
    });
  });

  it('estimates unified memory as half of deviceMemory, and something safe when hidden', () => {
    expect(estimateBudget({ adapterClass: 'integrated', deviceMemoryGiB: 8 }).value).toBe(4 * GiB);
    expect(estimateBudget({ adapterClass: 'integrated', deviceMemoryGiB: 8 }).detail).toMatch(
      /half of navigator.deviceMemory \(8 GiB\)/,
    );
    expect(estimateBudget({ adapterClass: 'integrated' }).value).toBe(2 * GiB);
    expect(estimateBudget({ adapterClass: 'software', deviceMemoryGiB: 4 }).value).toBe(2 * GiB);
    expect(estimateBudget({ adapterClass: 'unknown', deviceMemoryGiB: 4 }).value).toBe(GiB);
    expect(estimateBudget({ adapterClass: 'unknown', deviceMemoryGiB: 16 }).value).toBe(2 * GiB);
    expect(estimateBudget({ adapterClass: 'unknown' }).value).toBe(GiB);
  });

  it('keeps the larger of 10% and 512 MiB as the default margin', () => {
    expect(marginBytes(2 * GiB)).toBe(512 * MiB);
    expect(marginBytes(5 * GiB)).toBe(512 * MiB);
    expect(marginBytes(8 * GiB)).toBe(Math.round(0.8 * GiB));
    expect(marginBytes(8 * GiB, { fraction: 0.2, minBytes: 0 })).toBe(Math.round(1.6 * GiB));
    expect(budgetReport({ value: 256 * MiB, source: 'user', detail: '' }).usableBytes).toBe(0);
    expect(budgetReport({ value: GiB, source: 'user', detail: '' }, NO_MARGIN).usableBytes).toBe(
      GiB,
    );
  });

  it('lowers a budget by a fraction for a retry, keeping where it came from', async () => {
    const device = withUserBudget(base, 10 * GiB);
    const lower = lowerBudget(device, 0.1, 'after an out-of-memory error while loading');
    expect(lower.memoryBudget).toEqual({
      value: Math.floor(9 * GiB),
      source: 'user',
      detail: 'set by you, lowered 10% after an out-of-memory error while loading',
    });
    expect(() => lowerBudget(device, 1, 'x')).toThrow(/between 0 and 1/);
    const header = await realShapeHeader('Llama-3.1-8B-Q4_K_M');
    const before = planModel(header, [device]);
    const after = planModel(header, [lower]);
    expect(after.bytes.gpu.total).toBeLessThanOrEqual(after.layers.devices[0].budget.usableBytes);
    expect(after.contextTokens).toBeLessThan(before.contextTokens);
  });

  it('reports each figure and its source in the reasons', async () => {
    const header = await realShapeHeader('Llama-3.2-1B-Q8_0');
    const device = describeAdapter(
      {
        name: 'laptop',
        adapterClass: 'integrated',
        limits: { maxStorageBufferBindingSize: GiB, maxBufferSize: GiB },
        features: [],
      },
      { deviceMemoryGiB: 16, uploadBytesPerSecond: 9e9 },
    );
    const reasons = planModel(header, [device]).reasons.join('\n');
    expect(reasons).toMatch(
      /Memory budget on laptop: 8.00 GiB \(estimate: unified memory: half of navigator.deviceMemory \(16 GiB\)\); 819 MiB kept free/,
    );
    expect(reasons).toMatch(/upload 9.0 GB\/s \(measured\)/);
    expect(reasons).toMatch(/compute 50.0 GB\/s \(estimate\)/);
  });

  it('never reports a slow measured device as 0.0 GB/s', async () => {
    const header = await realShapeHeader('Llama-3.2-1B-Q8_0');
    const device = describeAdapter(
      {
        name: 'software',
        adapterClass: 'software',
        limits: { maxStorageBufferBindingSize: GiB, maxBufferSize: GiB },
        features: [],
      },
      { deviceMemoryGiB: 16, uploadBytesPerSecond: 2.5e7, computeBytesPerSecond: 4.2e7 },
    );
    const reasons = planModel(header, [device]).reasons.join('\n');
    expect(reasons).toMatch(/compute 42.0 MB\/s \(measured\), upload 25.0 MB\/s \(measured\)/);
    expect(reasons).not.toMatch(/0\.0 (GB|MB)\/s|about 0\.0 tokens/);
  });
});

describe('device files', () => {
  // cpu-*.json describe processors for the CPU engine (parsed by parseCpuFile, tested beside it).
  const files = readdirSync('devices').filter((f) => f.endsWith('.json') && !f.startsWith('cpu-'));

  it('ships the documented classes, each one parsing', () => {
    expect(files.sort()).toEqual([
      'discrete-4gb.json',
      'discrete-8gb.json',
      'phone.json',
      'software-swiftshader.json',
      'unified-16gb.json',
    ]);
    const readme = readFileSync('devices/README.md', 'utf8');
    for (const file of files) {
      const device = parseDeviceFile(JSON.parse(readFileSync(`devices/${file}`, 'utf8')), file);
      expect(device.memoryBudget.value).toBeGreaterThan(0);
      expect(readme).toContain(file);
    }
  });

  it('refuses a broken file naming the field', () => {
    const good = JSON.parse(readFileSync('devices/discrete-8gb.json', 'utf8'));
    expect(() => parseDeviceFile({ ...good, adapterClass: 'gpu' }, 'x.json')).toThrow(
      /x.json: "adapterClass" must be one of/,
    );
    expect(() => parseDeviceFile({ ...good, limits: { maxBufferSize: 1 } }, 'x.json')).toThrow(
      /limits.maxStorageBufferBindingSize/,
    );
    expect(() => parseDeviceFile({ ...good, memoryBudgetMiB: -1 }, 'x.json')).toThrow(
      /memoryBudgetMiB/,
    );
    expect(() => parseDeviceFile([], 'x.json')).toThrow(/"name"/);
  });

  it('plans sensibly on the shipped classes', async () => {
    const load = (f: string) =>
      parseDeviceFile(JSON.parse(readFileSync(`devices/${f}`, 'utf8')), f);
    const llama8b = await realShapeHeader('Llama-3.1-8B-Q4_K_M');
    expect(planModel(llama8b, [load('discrete-8gb.json')]).fits).toBe('full');
    expect(planModel(llama8b, [load('discrete-4gb.json')]).fits).toBe('partial');
    expect(planModel(llama8b, [load('phone.json')]).fits).toBe('none');
    const qwen = await realShapeHeader('Qwen3-0.6B-F16');
    const soft = planModel(qwen, [load('software-swiftshader.json')]);
    expect(soft).toMatchObject({ fits: 'full', precision: { compute: 'f32' } });
  });
});

describe('two devices', () => {
  it.each(REAL_SHAPES.map((s) => s.id))(
    '%s: ranges are contiguous, cover every layer and fit each budget',
    async (id) => {
      const header = await realShapeHeader(id);
      const layers = header.hparams.blockCount;
      const next = random(3);
      for (let i = 0; i < 25; i++) {
        const devices = [
          withUserBudget(base, 2 ** (29 + next() * 5)),
          withUserBudget(igpu, 2 ** (29 + next() * 5)),
        ];
        const plan = planModel(header, devices);
        const ranges = plan.layers.devices.map((d) => d.layers);
        expect(ranges).toHaveLength(2);
        expect(ranges[0][0]).toBe(0);
        expect(ranges[1][0]).toBe(ranges[0][1] + 1);
        expect(ranges[1][1]).toBe(layers - 1);
        if (plan.fits === 'none') continue;
        plan.layers.devices.forEach((d) => {
          expect(d.bytes.total).toBeLessThanOrEqual(d.budget.usableBytes);
          expect(d.resident + d.streamed).toBe(d.layers[1] - d.layers[0] + 1);
        });
        expect(plan.layers.resident).toBe(plan.layers.devices.reduce((a, d) => a + d.resident, 0));
        expect(plan.bytes.gpu.total).toBe(
          plan.layers.devices.reduce((a, d) => a + d.bytes.total, 0),
        );
      }
    },
  );

  it('more budget on either device never gives fewer resident layers', async () => {
    const header = await realShapeHeader('Qwen2.5-7B-Q4_K_M');
    const next = random(5);
    for (let i = 0; i < 12; i++) {
      const a = 2 ** (29 + next() * 4);
      const b = 2 ** (29 + next() * 4);
      const before = planModel(header, [withUserBudget(base, a), withUserBudget(igpu, b)]);
      const more = next() < 0.5 ? [a * 1.3, b] : [a, b * 1.3];
      const after = planModel(header, [
        withUserBudget(base, more[0]),
        withUserBudget(igpu, more[1]),
      ]);
      expect(after.layers.resident, `budgets ${a}, ${b}`).toBeGreaterThanOrEqual(
        before.layers.resident,
      );
    }
  });

  it('splits in proportion to the budgets, and to measured speed when known', async () => {
    const header = await realShapeHeader('Llama-3.1-8B-Q4_K_M');
    const equal = planModel(header, [withUserBudget(base, 8 * GiB), withUserBudget(igpu, 8 * GiB)]);
    expect(equal.fits).toBe('full');
    expect(equal.layers.devices.map((d) => d.layers)).toEqual([
      [0, 15],
      [16, 31],
    ]);
    const uneven = planModel(
      header,
      [withUserBudget(base, 12 * GiB), withUserBudget(igpu, 4 * GiB)],
      { contextTokens: 4096 },
    );
    const first = uneven.layers.devices[0].layers[1] + 1;
    // Usable 10.8 GiB and 3.5 GiB: about three quarters of the layers on the first device.
    expect(first).toBeGreaterThanOrEqual(23);
    expect(first).toBeLessThanOrEqual(25);
    const measured = (d: DeviceDescription, rate: number): DeviceDescription => ({
      ...d,
      computeRate: { value: rate, source: 'measured', detail: 'test' },
    });
    const fast = planModel(
      header,
      [
        measured(withUserBudget(base, 8 * GiB), 300e9),
        measured(withUserBudget(igpu, 8 * GiB), 100e9),
      ],
      {
        contextTokens: 4096,
      },
    );
    expect(fast.layers.devices[0].layers[1] + 1).toBe(24);
  });

  it('takes pinned ranges as given and refuses ranges that leave a gap', async () => {
    const header = await realShapeHeader('Llama-3.2-1B-Q8_0');
    const devices = [withUserBudget(base, 8 * GiB), withUserBudget(igpu, 8 * GiB)];
    const plan = planModel(header, devices, {
      pinnedLayers: [
        [0, 2],
        [3, 15],
      ],
    });
    expect(plan.layers.devices.map((d) => d.layers)).toEqual([
      [0, 2],
      [3, 15],
    ]);
    expect(plan.reasons.join(' ')).toMatch(/as pinned/);
    expect(() =>
      planModel(header, devices, {
        pinnedLayers: [
          [0, 2],
          [4, 15],
        ],
      }),
    ).toThrow(/contiguous/);
    expect(() =>
      planModel(header, devices, {
        pinnedLayers: [
          [0, 2],
          [3, 14],
        ],
      }),
    ).toThrow(/cover them all/);
    expect(() => planModel(header, devices, { pinnedLayers: [[0, 15]] })).toThrow(
      /one \[first, last\] range per device/,
    );
  });

  it('puts the embedding on the first device and the output on the last', async () => {
    const header = await realShapeHeader('Qwen2.5-7B-Q4_K_M');
    const account = accountModel(header, 'file', 2 ** 30);
    const plan = planModel(header, [withUserBudget(base, 8 * GiB), withUserBudget(igpu, 8 * GiB)], {
      contextTokens: 4096,
    });
    const [a, b] = plan.layers.devices;
    expect(a).toMatchObject({ holdsEmbedding: true, holdsOutput: false });
    expect(b).toMatchObject({ holdsEmbedding: false, holdsOutput: true });
    const sum = (from: number, to: number) =>
      account.layerBytes.slice(from, to + 1).reduce((x, y) => x + y, 0);
    expect(a.bytes.weights).toBe(account.embeddingBytes + sum(a.layers[0], a.layers[1]));
    expect(b.bytes.weights).toBe(account.headBytes + sum(b.layers[0], b.layers[1]));
  });
});

describe('speed', () => {
  it('predicts from bytes: compute-bound when resident, upload-bound when streaming', async () => {
    const header = await realShapeHeader('Llama-3.1-8B-Q4_K_M');
    const device = withUserBudget(base, 64 * GiB);
    const full = planModel(header, [device], { contextTokens: 4096, decodePosition: 0 });
    const account = accountModel(header, 'file', device.limits.maxStorageBufferBindingSize);
    const perToken =
      account.layerBytes.reduce((a, b) => a + b, 0) +
      account.headBytes +
      account.embeddingBytes / header.hparams.vocabSize;
    expect(full.predicted.bound).toBe('compute');
    expect(full.predicted.decodeTokensPerSecond).toBeCloseTo(
      device.computeRate.value / perToken,
      6,
    );
    const streamed = planModel(header, [device], {
      contextTokens: 4096,
      decodePosition: 0,
      residentLayers: 8,
    });
    const upload = streamed.bytes.host.weights / device.uploadBandwidth.value;
    expect(streamed.predicted.bound).toBe('upload');
    expect(1 / streamed.predicted.decodeTokensPerSecond).toBeCloseTo(
      Math.max(upload, perToken / device.computeRate.value),
      9,
    );
    const software = { ...device, uploadOverlapsCompute: false };
    const serial = planModel(header, [software], {
      contextTokens: 4096,
      decodePosition: 0,
      residentLayers: 8,
    });
    expect(1 / serial.predicted.decodeTokensPerSecond).toBeCloseTo(
      upload + perToken / device.computeRate.value,
      9,
    );
  });

  it('adds the measured per-token round trip, and reads it from device files', async () => {
    const header = await realShapeHeader('SmolLM2-360M-Q4_K_M');
    const device = withUserBudget(base, 64 * GiB);
    const plain = planModel(header, [device], { contextTokens: 4096 });
    const slow = describeAdapter(
      { name: 'dGPU', adapterClass: 'discrete', limits: device.limits, features: device.features },
      { userBudgetBytes: 64 * GiB, roundTripSeconds: 0.002 },
    );
    const withTrip = planModel(header, [slow], { contextTokens: 4096 });
    expect(withTrip.predicted.overheadSeconds).toBe(0.002);
    expect(
      1 / withTrip.predicted.decodeTokensPerSecond - 1 / plain.predicted.decodeTokensPerSecond,
    ).toBeCloseTo(0.002, 9);
    const good = JSON.parse(readFileSync('devices/discrete-8gb.json', 'utf8'));
    expect(parseDeviceFile({ ...good, tokenOverheadMs: 1.5 }, 'x').tokenOverhead?.value).toBe(
      0.0015,
    );
    expect(() => parseDeviceFile({ ...good, tokenOverheadMs: 'x' }, 'x.json')).toThrow(
      /tokenOverheadMs/,
    );
  });

  it('counts the KV cache read at the decode position', async () => {
    const header = await realShapeHeader('Llama-3.2-1B-Q8_0');
    const device = withUserBudget(base, 64 * GiB);
    const at0 = planModel(header, [device], { contextTokens: 8192, decodePosition: 0 });
    const at4k = planModel(header, [device], { contextTokens: 8192, decodePosition: 4096 });
    const extra =
      1 / at4k.predicted.decodeTokensPerSecond - 1 / at0.predicted.decodeTokensPerSecond;
    expect(extra).toBeCloseTo((4096 * at0.kvBytesPerToken) / device.computeRate.value, 9);
  });

  it('when streaming is slow, says so and names a smaller quantization that fits entirely', async () => {
    const header = await realShapeHeader('Llama-3.2-1B-Q8_0');
    const budget = 1200 * MiB;
    const plan = planModel(header, [withUserBudget(base, budget)], { margin: NO_MARGIN });
    expect(plan.fits).toBe('partial');
    expect(plan.reasons.join(' ')).toMatch(/Streaming makes this slow/);
    const suggestion = plan.smallerQuantization!;
    expect(suggestion.name).toMatch(/^(Q6_K|Q5_K_M|Q4_K_M|Q4_0)$/);
    expect(plan.reasons.join(' ')).toContain(`A ${suggestion.name} file of this model`);
    // Check the claim on a header written as that quantization.
    const shape = { ...realShape('Llama-3.2-1B-Q8_0'), fileType: suggestion.name as 'Q4_K_M' };
    const other = await parseHeader(bytesSource(realShapeFile(shape)), { allowMissingData: true });
    const replanned = planModel(other, [withUserBudget(base, budget)], { margin: NO_MARGIN });
    expect(replanned.fits).toBe('full');
    expect(replanned.bytes.gpu.weights).toBeLessThan(
      plan.bytes.gpu.weights + plan.bytes.host.weights,
    );
  });
});
