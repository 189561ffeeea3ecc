// Compute pipelines with explicit bind group layouts, so unused bindings never break a bind group,
// compiled once per kernel variant and kept for the engine's lifetime. A variant is a kernel name
// and its constants (`kernel(...)`): the pipeline key is those, not the WGSL text, and the bind
// group layout is read from the shader's own `@group(0) @binding(N) var<...>` declarations.
import { HOST_STRUCTS_WGSL } from './host-structs';
import { preprocess, variantKey, type KernelConstants } from './preprocess';

/** A buffer binding's kind: a uniform, read-only storage, or read-write storage. */
export type BindingKind = 'uniform' | 'read' | 'rw';

const BUFFER_TYPES: Record<BindingKind, GPUBufferBindingType> = {
  uniform: 'uniform',
  read: 'read-only-storage',
  rw: 'storage',
};

/** A kernel's name and constants: one pipeline. */
export type PipelineKey = string & { readonly __pipelineKey: never };

export function pipelineKey(name: string, constants: KernelConstants): PipelineKey {
  return variantKey(name, constants) as PipelineKey;
}

/** One specialised kernel, what `PipelineCache.get` compiles. */
export interface KernelVariant {
  key: PipelineKey;
  /** The kernel's name, for labels and errors. */
  name: string;
  code: string;
  /** Kind of each binding of group 0, by binding number (read from `code`). */
  bindings: BindingKind[];
}

const DECLARATION =
  /@group\(\s*(\d+)\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s*(?:<\s*([a-z_]+)\s*(?:,\s*([a-z_]+)\s*)?>)?/g;

/**
 * The buffer bindings `code` declares in group 0, by binding number: `var<uniform>`,
 * `var<storage>` / `var<storage, read>` and `var<storage, read_write>`. Bindings must be numbered
 * 0..n-1 without gaps (the host passes buffers in that order).
 */
export function declaredBindings(code: string, name = 'kernel'): BindingKind[] {
  const kinds: BindingKind[] = [];
  for (const [, group, binding, space, access] of code.matchAll(DECLARATION)) {
    if (group !== '0') throw new Error(`${name}: binds group ${group}; kernels use group 0 only`);
    const n = Number(binding);
    if (kinds[n] !== undefined) throw new Error(`${name}: binding ${n} is declared twice`);
    if (space === 'uniform') kinds[n] = 'uniform';
    else if (space === 'storage') kinds[n] = access === 'read_write' ? 'rw' : 'read';
    else throw new Error(`${name}: binding ${n} is not a uniform or storage buffer`);
  }
  for (let n = 0; n < kinds.length; n++) {
    if (kinds[n] === undefined) throw new Error(`${name}: bindings skip number ${n}`);
  }
  return kinds;
}

/**
 * A kernel variant: `source` (a `.wgsl` file, or several joined) specialised by `constants` (see
 * preprocess.ts), after the host structs' declarations. `name` must identify `source`: two
 * variants with one name and equal constants are one pipeline.
 */
export function kernel(name: string, source: string, constants: KernelConstants): KernelVariant {
  const code = preprocess(HOST_STRUCTS_WGSL + source, constants, name);
  return { key: pipelineKey(name, constants), name, code, bindings: declaredBindings(code, name) };
}

/**
 * A variant of finished WGSL that did not come from a `.wgsl` file and constants (an older
 * revision's kernel that a bench compares with): keyed by `name`, bindings read from `code`.
 */
export function sourceVariant(name: string, code: string): KernelVariant {
  return { key: pipelineKey(name, {}), name, code, bindings: declaredBindings(code, name) };
}

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
  private readonly kernels = new Map<string, { code: string; kernel: Promise<Kernel> }>();
  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.kernels.size;
  }

  /** The keys of the variants compiled so far. */
  keys(): string[] {
    return [...this.kernels.keys()];
  }

  /** The compiled pipeline of a variant. */
  get(variant: KernelVariant, label?: string): Promise<Kernel> {
    const key = variant.key;
    const name = label ?? variant.name;
    const cached = this.kernels.get(key);
    if (cached) {
      if (cached.code !== variant.code) {
        throw new Error(`kernel ${name}: two different sources share the pipeline key ${key}`);
      }
      return cached.kernel;
    }
    const kernel = this.compile(variant, name);
    this.kernels.set(key, { code: variant.code, kernel });
    return kernel;
  }

  private async compile(source: KernelVariant, label: string): Promise<Kernel> {
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
