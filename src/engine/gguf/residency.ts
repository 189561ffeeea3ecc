// Partial residency: which layers a device runs and which of them stay on the GPU, and the
// streaming of the others. A streamed layer lives in host memory as its packed image (byte for
// byte what a resident layer's buffer holds) and is uploaded into one of two slot buffers just
// before it runs, so the very pipelines and bind-group layouts of resident layers run it.
import type { GpuAllocator } from './allocator';

/** The layers one device runs, `first..last`; the last `resident` of them stay on its GPU. */
export interface LayerPlacement {
  first: number;
  last: number;
  resident: number;
  /** Runs the token embedding (the first device). */
  holdsEmbedding: boolean;
  /** Runs the output layer and the sampler (the last device). */
  holdsOutput: boolean;
}

export function fullPlacement(layers: number, resident = layers): LayerPlacement {
  if (!Number.isInteger(resident) || resident < 0 || resident > layers) {
    throw new RangeError(
      `resident layers must be a whole number from 0 to ${layers}, got ${resident}`,
    );
  }
  return { first: 0, last: layers - 1, resident, holdsEmbedding: true, holdsOutput: true };
}

export function checkPlacement(p: LayerPlacement, layers: number): void {
  const count = p.last - p.first + 1;
  if (
    !Number.isInteger(p.first) ||
    !Number.isInteger(p.last) ||
    p.first < 0 ||
    p.last >= layers ||
    count < 1 ||
    !Number.isInteger(p.resident) ||
    p.resident < 0 ||
    p.resident > count
  ) {
    throw new RangeError(
      `layer placement ${JSON.stringify(p)} does not fit a model of ${layers} layers: ` +
        'give 0 <= first <= last < layers and 0 <= resident <= last - first + 1',
    );
  }
}

/** Layers of the placement that are streamed, in the order they run. */
export function streamedLayers(p: LayerPlacement): number[] {
  const count = p.last - p.first + 1 - p.resident;
  return Array.from({ length: count }, (_, k) => p.first + k);
}

/**
 * Host images of the streamed layers and the ping-pong pair of slots they run from: streamed
 * layer k always runs from slot k % 2, so its bind groups are built once at load.
 */
export class LayerStream {
  readonly slots: [GPUBuffer, GPUBuffer];
  /** Bytes uploaded since the counter was last read (per pass). */
  uploadedBytes = 0;

  constructor(
    readonly device: GPUDevice,
    allocator: GpuAllocator,
    readonly layers: number[],
    private readonly images: Uint8Array[],
  ) {
    const slotBytes = Math.max(...images.map((i) => i.byteLength));
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    this.slots = [
      allocator.create('slots', 'slot.0', slotBytes, usage),
      allocator.create('slots', 'slot.1', slotBytes, usage),
    ];
  }

  get count(): number {
    return this.layers.length;
  }

  /** Host bytes the streamed images take. */
  get hostBytes(): number {
    return this.images.reduce((a, i) => a + i.byteLength, 0);
  }

  slotOf(layer: number): GPUBuffer {
    const k = this.layers.indexOf(layer);
    if (k < 0) throw new RangeError(`layer ${layer} is not streamed on this device`);
    return this.slots[k % 2];
  }

  /**
   * Queues streamed layer k's upload into its slot. Queue order makes it land after every
   * submission issued before this call (which may still read the slot's previous layer, k - 2)
   * and before every submission issued after it.
   */
  upload(k: number): void {
    const image = this.images[k];
    this.device.queue.writeBuffer(
      this.slots[k % 2],
      0,
      image.buffer,
      image.byteOffset,
      image.byteLength,
    );
    this.uploadedBytes += image.byteLength;
  }
}
