// Compute pipelines with explicit bind group layouts, so unused bindings never break a bind group,
// compiled once per distinct source and kept for the engine's lifetime.
import type { BindingKind, KernelSource } from './matmul';

const BUFFER_TYPES: Record<BindingKind, GPUBufferBindingType> = {
  uniform: 'uniform',
  read: 'read-only-storage',
  rw: 'storage',
};

export interface Kernel {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  bindings: BindingKind[];
}

export interface BufferSlice {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

export class PipelineCache {
  private readonly kernels = new Map<string, Promise<Kernel>>();
  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.kernels.size;
  }

  get(source: KernelSource, label = 'kernel'): Promise<Kernel> {
    const key = source.code;
    let kernel = this.kernels.get(key);
    if (!kernel) {
      kernel = this.compile(source, label);
      this.kernels.set(key, kernel);
    }
    return kernel;
  }

  private async compile(source: KernelSource, label: string): Promise<Kernel> {
    const device = this.device;
    const module = device.createShaderModule({ code: source.code, label });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) {
      throw new Error(
        `WGSL kernel ${label} failed to compile: ` +
          errors.map((m) => `line ${m.lineNum}: ${m.message}`).join('; '),
      );
    }
    const layout = device.createBindGroupLayout({
      label,
      entries: source.bindings.map((kind, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: BUFFER_TYPES[kind] },
      })),
    });
    device.pushErrorScope('validation');
    const pipeline = await device.createComputePipelineAsync({
      label,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    const error = await device.popErrorScope();
    if (error) throw new Error(`WGSL kernel ${label} failed to build: ${error.message}`);
    return { pipeline, layout, bindings: source.bindings };
  }

  bindGroup(kernel: Kernel, slices: BufferSlice[], label = 'bind group'): GPUBindGroup {
    if (slices.length !== kernel.bindings.length) {
      throw new Error(`${label}: ${slices.length} buffers for ${kernel.bindings.length} bindings`);
    }
    return this.device.createBindGroup({
      label,
      layout: kernel.layout,
      entries: slices.map((s, binding) => ({
        binding,
        resource: { buffer: s.buffer, offset: s.offset ?? 0, size: s.size },
      })),
    });
  }
}
