import { describe, expect, it } from 'vitest';
import { nodeGpu } from '../../src/gpu/node-gpu';
import { openProbedDevice, probeGpu, type GpuReport } from '../../src/gpu/probe';

describe('probeGpu on dawn.node', () => {
  it('reads SwiftShader as a software adapter without shader-f16 and with 1 GiB bindings', async () => {
    const gpu = nodeGpu('swiftshader');
    const report = (await probeGpu({ gpu, userAgent: 'node' })) as GpuReport;
    expect(report.status).toBe('ok');
    expect(report.sameAdapter).toBe(true);
    const [a] = report.adapters;
    expect(a.info.vendor).toBe('google');
    expect(a.info.architecture).toBe('swiftshader');
    expect(a.info.isFallbackAdapter).toBe(true);
    expect(a.class).toBe('software');
    expect(a.features).not.toContain('shader-f16');
    expect(a.features).toContain('subgroups');
    expect(a.info.subgroupMinSize).toBe(4);
    const adapter = (await gpu.requestAdapter())!;
    expect(a.limits.maxStorageBufferBindingSize).toBe(adapter.limits.maxStorageBufferBindingSize);
    expect(a.limits.maxStorageBufferBindingSize).toBe(2 ** 30);
    expect(a.limits.maxComputeWorkgroupStorageSize).toBe(
      adapter.limits.maxComputeWorkgroupStorageSize,
    );
    expect(Object.keys(a.limits).length).toBeGreaterThan(25);
    expect(report.wgslLanguageFeatures).toContain('packed_4x8_integer_dot_product');
    expect(report.warnings.join(' ')).toMatch(/software adapter/);
  });

  it('reads lavapipe with shader-f16 and 128 MiB bindings', async () => {
    const gpu = nodeGpu('lavapipe');
    const report = (await probeGpu({ gpu })) as GpuReport;
    const [a] = report.adapters;
    expect(a.info.vendor).toBe('mesa');
    expect(a.info.description).toMatch(/llvmpipe/);
    expect(a.class).toBe('software');
    expect(a.features).toEqual(expect.arrayContaining(['shader-f16', 'subgroups']));
    expect(a.limits.maxStorageBufferBindingSize).toBe(2 ** 27);
    expect(a.limits.maxBufferSize).toBe((await gpu.requestAdapter())!.limits.maxBufferSize);
  });

  it('opens a device with the adapter limits raised', async () => {
    const gpu = nodeGpu('swiftshader');
    const engine = await openProbedDevice(gpu, 'high-performance');
    try {
      expect(engine.device.limits.maxStorageBufferBindingSize).toBe(2 ** 30);
    } finally {
      engine.device.destroy();
    }
    const loss = await engine.lost;
    expect(loss.reason).toBe('destroyed');
  });
});
