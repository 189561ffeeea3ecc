// The engine choice: the CPU engine's prediction from its description, the CPU on a software
// (fallback) adapter or without WebGPU, the faster engine otherwise, reasons that name both
// predictions, and the person's override.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  chooseEngine,
  cpuOnlyPlan,
  CPU_EFFICIENCY,
  cpuBytesPerToken,
  cpuThreads,
  impliedCpuEfficiency,
  parseCpuFile,
  predictCpu,
  predictedDecodeRate,
  withEngineChoice,
  WASM32_ADDRESS_SPACE,
  type CpuDescription,
} from '../../src/plan/cpu.ts';
import { planJson } from '../../src/plan/contract.ts';
import { parseDeviceFile } from '../../src/plan/device.ts';
import { planModel } from '../../src/plan/planner.ts';
import { realShapeHeader } from '../fixtures/real-shapes.ts';

const device = (file: string) =>
  parseDeviceFile(JSON.parse(readFileSync(`devices/${file}.json`, 'utf8')), file);
const CPU_FILE = JSON.parse(readFileSync('devices/cpu-2core.json', 'utf8')) as Record<
  string,
  unknown
>;
const CPU = parseCpuFile(CPU_FILE, 'cpu');

describe('CPU engine prediction', () => {
  it('reads every weight once per token (one embedding row), at the calibrated rate per thread', async () => {
    const header = await realShapeHeader('Llama-3.2-1B-Q8_0');
    const weights = header.tensors.reduce((n, t) => n + t.bytes, 0);
    const embedding = header.tensors.find((t) => t.name === 'token_embd.weight')!.bytes;
    const tied = !header.tensors.some((t) => t.name === 'output.weight');
    const h = header.hparams;
    const kv = h.blockCount * h.headCountKv * (h.keyLength + h.valueLength) * 2 * 256;
    const perToken = weights - (tied ? 0 : embedding - embedding / h.vocabSize) + kv;
    const predicted = predictCpu(header, CPU, 4096);
    expect(predicted.threads).toBe(2);
    expect(predicted.decodeTokensPerSecond).toBeCloseTo((6e9 * CPU_EFFICIENCY * 2) / perToken, 6);
    const single = predictCpu(header, { ...CPU, isolated: false }, 4096);
    expect(single.threads).toBe(1);
    expect(single.decodeTokensPerSecond).toBeCloseTo(predicted.decodeTokensPerSecond / 2, 6);
  });

  it('takes the threads together at their measured rate, and one thread where they read slower together', async () => {
    const header = await realShapeHeader('SmolLM2-360M-Q4_K_M');
    const rate = (gbps: number) => ({
      value: gbps * 1e9,
      source: 'calibration' as const,
      detail: '',
    });
    const perToken = cpuBytesPerToken(header, 256);
    // Threads that scale: two of them read 10 GB/s together (one alone 6).
    const scaling = { ...CPU, threadedReadRate: rate(10) };
    expect(cpuThreads(scaling)).toBe(2);
    expect(predictCpu(header, scaling, 4096).decodeTokensPerSecond).toBeCloseTo(
      (10e9 * CPU_EFFICIENCY) / perToken,
      6,
    );
    // Never above a thread's rate times the threads, whatever the calibration said.
    const noisy = { ...CPU, threadedReadRate: rate(50) };
    expect(predictCpu(header, noisy, 4096).decodeTokensPerSecond).toBeCloseTo(
      (12e9 * CPU_EFFICIENCY) / perToken,
      6,
    );
    // Busy cores: two threads read 1 GB/s together, less than one alone, so one thread runs.
    const busy = { ...CPU, threadedReadRate: rate(1) };
    expect(cpuThreads(busy)).toBe(1);
    const predicted = predictCpu(header, busy, 4096);
    expect(predicted.threads).toBe(1);
    expect(predicted.decodeTokensPerSecond).toBeCloseTo((6e9 * CPU_EFFICIENCY) / perToken, 6);
    const choice = chooseEngine({ header, gpuPlan: null, cpu: busy });
    expect(choice.threads).toBe(1);
    expect(choice.reason).toMatch(/1 thread \(a thread per core was measured reading slower/);
    expect(parseCpuFile({ ...CPU_FILE, threadedReadGBps: 1 }, 'busy').threadedReadRate?.value).toBe(
      1e9,
    );
    expect(() => parseCpuFile({ ...CPU_FILE, threadedReadGBps: -1 }, 'bad')).toThrow(
      /"threadedReadGBps" must be a positive number/,
    );
  });

  it('gives back the efficiency a measured run implies: the prediction inverted', async () => {
    const header = await realShapeHeader('SmolLM2-360M-Q4_K_M');
    const predicted = predictCpu(header, CPU, 4096, 300);
    expect(impliedCpuEfficiency(header, CPU, predicted.decodeTokensPerSecond, 300)).toBeCloseTo(
      CPU_EFFICIENCY,
      9,
    );
    // 2 tok/s on 2 threads of a 6 GB/s read rate, each token reading cpuBytesPerToken bytes.
    const single = { ...CPU, isolated: false };
    expect(impliedCpuEfficiency(header, single, 2, 300)).toBeCloseTo(
      (2 * cpuBytesPerToken(header, 300)) / 6e9,
      9,
    );
    expect(impliedCpuEfficiency(header, CPU, 2, 300)).toBeCloseTo(
      (2 * cpuBytesPerToken(header, 300)) / 12e9,
      9,
    );
  });

  it('refuses a model past the WebAssembly address space or host memory', async () => {
    const header = await realShapeHeader('Llama-3.1-8B-Q4_K_M');
    const wasm32: CpuDescription = {
      ...CPU,
      memory: { ...CPU.memory, value: 64 * 2 ** 30 },
      addressSpaceBytes: WASM32_ADDRESS_SPACE,
    };
    expect(predictCpu(header, wasm32, 4096).problem).toMatch(/WebAssembly address space/);
    const small: CpuDescription = { ...CPU, memory: { ...CPU.memory, value: 2 ** 30 } };
    expect(predictCpu(header, small, 4096).problem).toMatch(/host memory/);
    expect(predictCpu(header, CPU, 4096).problem).toBeNull();
  });
});

describe('engine choice', () => {
  it('picks the CPU on a software (fallback) adapter, saying why with both predictions', async () => {
    const header = await realShapeHeader('SmolLM2-360M-Q4_K_M');
    const swiftshader = device('software-swiftshader');
    const gpuPlan = planModel(header, [swiftshader]);
    const choice = chooseEngine({ header, gpuPlan, adapterClass: 'software', cpu: CPU });
    expect(choice.engine).toBe('cpu');
    expect(choice.reason).toMatch(/software \(fallback\) adapter/);
    expect(choice.reason).toContain('GPU plan is predicted at');
    expect(choice.reason).toContain('CPU engine is predicted at');
    const json = planJson(withEngineChoice(gpuPlan, choice));
    expect(json.engine).toBe('cpu');
    expect(json.predicted.cpuDecodeTokensPerSecond).toBeGreaterThan(0);
    expect(json.reasons[0]).toBe(choice.reason);
  });

  it('picks the CPU with no WebGPU at all', async () => {
    const header = await realShapeHeader('SmolLM2-360M-Q4_K_M');
    const choice = chooseEngine({ header, gpuPlan: null, cpu: CPU });
    expect(choice.engine).toBe('cpu');
    expect(choice.reason).toMatch(/no WebGPU/);
  });

  it('picks whichever engine is predicted faster on a hardware adapter', async () => {
    const header = await realShapeHeader('Llama-3.2-1B-Q8_0');
    const gpuPlan = planModel(header, [device('discrete-8gb')]);
    const inputs = { header, gpuPlan, adapterClass: 'discrete' as const };
    expect(chooseEngine({ ...inputs, cpu: CPU }).engine).toBe('gpu');
    const fastCpu = { ...CPU, logicalCores: 64, readRate: { ...CPU.readRate, value: 1e13 } };
    const choice = chooseEngine({ ...inputs, cpu: fastCpu });
    expect(choice.engine).toBe('cpu');
    expect(choice.reason).toMatch(/predicted faster/);
  });

  it('keeps the GPU when the CPU engine cannot hold the model, and follows the override', async () => {
    const header = await realShapeHeader('Llama-3.1-8B-Q4_K_M');
    const gpuPlan = planModel(header, [device('software-swiftshader')]);
    const wasm32 = { ...CPU, addressSpaceBytes: WASM32_ADDRESS_SPACE };
    expect(gpuPlan.fits).toBe('partial');
    const choice = chooseEngine({ header, gpuPlan, adapterClass: 'software', cpu: wasm32 });
    expect(choice.engine).toBe('gpu');
    expect(choice.reason).toMatch(/cannot hold the model/);
    const forced = chooseEngine({
      header,
      gpuPlan,
      adapterClass: 'software',
      cpu: CPU,
      override: 'gpu',
    });
    expect(forced.engine).toBe('gpu');
    expect(forced.reason).toMatch(/chosen in Settings/);
  });

  it('says the CPU engine runs one thread when the page is not cross-origin isolated', async () => {
    const header = await realShapeHeader('SmolLM2-360M-Q4_K_M');
    const choice = chooseEngine({ header, gpuPlan: null, cpu: { ...CPU, isolated: false } });
    expect(choice.threads).toBe(1);
    expect(choice.reason).toMatch(/1 thread \(the page is not cross-origin isolated/);
  });

  it('gives the CPU engine its own verdict: it holds the whole model, or it cannot run it', async () => {
    const header = await realShapeHeader('Llama-3.2-1B-Q8_0');
    // A GPU too small for even one layer: the GPU plan fails, the CPU engine runs the model.
    const swiftshader = device('software-swiftshader');
    const tiny = { ...swiftshader, memoryBudget: { ...swiftshader.memoryBudget, value: 2 ** 20 } };
    const gpuPlan = planModel(header, [tiny]);
    expect(gpuPlan.fits).toBe('none');
    const choice = chooseEngine({ header, gpuPlan, adapterClass: 'software', cpu: CPU });
    expect(choice.engine).toBe('cpu');
    expect(choice.reason).toMatch(/does not fit the GPU/);
    const plan = withEngineChoice(gpuPlan, choice);
    expect(plan.fits).toBe('full');
    expect(predictedDecodeRate(plan)).toBe(choice.cpuDecodeTokensPerSecond);
    // Forced onto a CPU engine that cannot hold it: it will not run, and the last reason says why.
    const wasm32 = { ...CPU, addressSpaceBytes: 2 ** 30 };
    const forced = chooseEngine({ header, gpuPlan, cpu: wasm32, override: 'cpu' });
    const refused = withEngineChoice(gpuPlan, forced);
    expect(refused.fits).toBe('none');
    expect(refused.reasons.at(-1)).toMatch(/WebAssembly address space/);
    // On the GPU engine the verdict and the rate stay the GPU plan's.
    const fitting = planModel(header, [device('discrete-8gb')]);
    const onGpu = withEngineChoice(
      fitting,
      chooseEngine({ header, gpuPlan: fitting, adapterClass: 'discrete', cpu: CPU }),
    );
    expect(onGpu.engine).toBe('gpu');
    expect(onGpu.fits).toBe(fitting.fits);
    expect(predictedDecodeRate(onGpu)).toBe(fitting.predicted.decodeTokensPerSecond);
  });

  it('plans everything onto the CPU engine where there is no WebGPU, refusing what it cannot hold', async () => {
    const small = await realShapeHeader('SmolLM2-360M-Q4_K_M');
    const plan = cpuOnlyPlan(small, CPU);
    expect(plan).toMatchObject({ fits: 'full', engine: 'cpu', contextTokens: 4096 });
    expect(plan.layers.devices).toEqual([]);
    expect(plan.reasons[0]).toMatch(/no WebGPU/);
    expect(planJson(plan).predicted.cpuDecodeTokensPerSecond).toBeGreaterThan(0);
    const large = await realShapeHeader('Llama-3.1-8B-Q4_K_M');
    const wasm32 = { ...CPU, addressSpaceBytes: WASM32_ADDRESS_SPACE };
    const refused = cpuOnlyPlan(large, wasm32, 8192);
    expect(refused.fits).toBe('none');
    expect(refused.reasons.at(-1)).toMatch(/WebAssembly address space/);
  });
});
