// Kernel variants: bind group layouts read from the shader's declarations, and a pipeline cache
// keyed by kernel name and constants that compiles each variant once.
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  declaredBindings,
  kernel,
  PipelineCache,
  sourceVariant,
} from '../../src/engine/gguf/kernels/pipeline';

const SOURCE = `
@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage> x: array<f32>;
#if EXTRA
@group(0)@binding(3) var<storage, read> extra: array<u32>;
#endif
var<workgroup> red: array<f32, 64>;
@compute @workgroup_size(64)
fn main() {}
`;

/** A device that records what it is asked to create and compiles anything. */
function fakeDevice() {
  const modules: string[] = [];
  const layouts: GPUBindGroupLayoutDescriptor[] = [];
  const device = {
    createShaderModule: ({ code }: { code: string }) => {
      modules.push(code);
      return { getCompilationInfo: async () => ({ messages: [] }) };
    },
    createBindGroupLayout: (descriptor: GPUBindGroupLayoutDescriptor) => {
      layouts.push(descriptor);
      return {};
    },
    createPipelineLayout: () => ({}),
    pushErrorScope: () => undefined,
    popErrorScope: async () => null,
    createComputePipelineAsync: async () => ({}),
  };
  return { device: device as unknown as GPUDevice, modules, layouts };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('kernel variants', () => {
  it('reads each binding kind from the declarations the #if blocks keep', () => {
    expect(kernel('k', SOURCE, { EXTRA: false }).bindings).toEqual(['uniform', 'read', 'rw']);
    expect(kernel('k', SOURCE, { EXTRA: true }).bindings).toEqual([
      'uniform',
      'read',
      'rw',
      'read',
    ]);
  });

  it('keys finished WGSL by its name and reads its bindings from it', () => {
    const code =
      '@group(0) @binding(0) var<uniform> s: Step;\n@group(0) @binding(1) var<storage, read_write> y: array<f32>;';
    expect(sourceVariant('baseline', code)).toEqual({
      key: 'baseline()',
      name: 'baseline',
      code,
      bindings: ['uniform', 'rw'],
    });
  });

  it('refuses declarations it cannot bind by number', () => {
    expect(() =>
      declaredBindings('@group(0) @binding(1) var<storage, read> x: array<f32>;', 'gap'),
    ).toThrow('gap: bindings skip number 0');
    expect(() => declaredBindings('@group(1) @binding(0) var<uniform> s: Step;', 'g1')).toThrow(
      'g1: binds group 1',
    );
    expect(() => declaredBindings('@group(0) @binding(0) var t: texture_2d<f32>;', 'tex')).toThrow(
      'tex: binding 0 is not a uniform or storage buffer',
    );
  });

  it('declares the host structs and the constants before the file', () => {
    const { code } = kernel('k', SOURCE, { EXTRA: true });
    expect(code).toMatch(/^const EXTRA = true;\nstruct Step \{/);
    expect(code.indexOf('struct Sampling')).toBeLessThan(code.indexOf('@group(0)'));
  });

  it('compiles a variant once per name and constants, with the layout it declares', async () => {
    vi.stubGlobal('GPUShaderStage', { COMPUTE: 4 });
    const { device, modules, layouts } = fakeDevice();
    const cache = new PipelineCache(device);
    const a = await cache.get(kernel('k', SOURCE, { EXTRA: false }));
    const again = await cache.get(kernel('k', SOURCE, { EXTRA: false }));
    await cache.get(kernel('k', SOURCE, { EXTRA: true }));
    expect(again).toBe(a);
    expect(modules).toHaveLength(2);
    expect(cache.keys()).toEqual(['k(EXTRA=false)', 'k(EXTRA=true)']);
    expect(layouts[0].entries).toEqual([
      { binding: 0, visibility: 4, buffer: { type: 'uniform' } },
      { binding: 1, visibility: 4, buffer: { type: 'read-only-storage' } },
      { binding: 2, visibility: 4, buffer: { type: 'storage' } },
    ]);
  });

  it('refuses two sources under one name and constants', async () => {
    vi.stubGlobal('GPUShaderStage', { COMPUTE: 4 });
    const cache = new PipelineCache(fakeDevice().device);
    await cache.get(kernel('k', SOURCE, { EXTRA: false }));
    expect(() => cache.get(kernel('k', `${SOURCE}\n// changed`, { EXTRA: false }))).toThrow(
      'kernel k: two different sources share the pipeline key k(EXTRA=false)',
    );
  });
});
