// Every GPU buffer the engine creates on a device goes through one allocator, which counts the
// bytes it really asked the driver for, by category, so the engine can report them beside the
// planner's prediction and tests can hold the two to each other.
import { alignUp } from './layout';

export type AllocationCategory = 'weights' | 'kv' | 'scratch' | 'slots';

export interface AllocatedBytes {
  weights: number;
  kv: number;
  scratch: number;
  slots: number;
  total: number;
}

/** The smallest buffer the engine creates: WebGPU rejects zero-sized bindings. */
const MIN_BUFFER_BYTES = 16;

export function emptyAllocation(): AllocatedBytes {
  return { weights: 0, kv: 0, scratch: 0, slots: 0, total: 0 };
}

export class GpuAllocator {
  private readonly live = new Map<GPUBuffer, { category: AllocationCategory; bytes: number }>();

  constructor(
    readonly device: GPUDevice,
    /** The device's name in reports (adapter description or "device 0"). */
    readonly name: string,
  ) {}

  create(category: AllocationCategory, label: string, bytes: number, usage: number): GPUBuffer {
    const size = alignUp(Math.max(MIN_BUFFER_BYTES, bytes), 4);
    const buffer = this.device.createBuffer({ label, size, usage });
    this.live.set(buffer, { category, bytes: size });
    return buffer;
  }

  /** Destroys `buffer` and stops counting it. */
  release(buffer: GPUBuffer): void {
    if (this.live.delete(buffer)) buffer.destroy();
  }

  /** Bytes of the buffers alive now, by category. */
  get allocated(): AllocatedBytes {
    const bytes = emptyAllocation();
    for (const { category, bytes: size } of this.live.values()) {
      bytes[category] += size;
      bytes.total += size;
    }
    return bytes;
  }

  destroyAll(): void {
    for (const buffer of this.live.keys()) buffer.destroy();
    this.live.clear();
  }
}
