// Read throughput of a stored model: raw IndexedDB (every chunk fetched, nothing else done) against
// the store's path into the GPU (StoreModelSource reads in tensor-sized pieces, chunk hashes
// checked, each piece written into a GPU buffer), measured in the same run on the same model.
import { StoreModelSource } from './model-source';
import type { ModelStore } from './model-store';

export interface ReadBenchResult {
  model: string;
  bytes: number;
  chunkBytes: number;
  /** Bytes per read call on the store path: a typical tensor's size. */
  pieceBytes: number;
  rawIndexedDbMBps: number;
  storeToGpuMBps: number;
  /** The same store path without chunk hash checks: what verification costs. */
  storeToGpuUnverifiedMBps: number;
  gpu: string;
}

const MB = 1e6;

export async function benchStoreReads(
  store: ModelStore,
  id: string,
  device: GPUDevice,
  gpu: string,
  pieceBytes = 4 * 1024 * 1024,
): Promise<ReadBenchResult> {
  const source = await StoreModelSource.open(store, id, { verify: true });
  const manifest = source.manifest;
  const readRaw = async (): Promise<number> => {
    const began = performance.now();
    let bytes = 0;
    for (let index = 0; index < manifest.chunks.length; index++) {
      bytes += (await store.getChunk(id, index)).length;
    }
    if (bytes !== manifest.size) throw new Error(`read ${bytes} of ${manifest.size} bytes`);
    return (performance.now() - began) / 1000;
  };
  // One untimed pass first, so every timed pass reads equally warm data.
  await readRaw();
  const rawSeconds = await readRaw();

  const buffer = device.createBuffer({
    size: Math.ceil(Math.min(pieceBytes, manifest.size) / 4) * 4 * 2,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  const toGpu = async (from: StoreModelSource): Promise<number> => {
    const began = performance.now();
    for (let offset = 0, slot = 0; offset < manifest.size; offset += pieceBytes, slot ^= 1) {
      const bytes = await from.read(offset, Math.min(pieceBytes, manifest.size - offset));
      const padded = bytes.length % 4 === 0 ? bytes : copyPadded(bytes);
      device.queue.writeBuffer(buffer, slot * (buffer.size / 2), padded);
    }
    await device.queue.onSubmittedWorkDone();
    return (performance.now() - began) / 1000;
  };
  try {
    const unverifiedSeconds = await toGpu(
      await StoreModelSource.open(store, id, { verify: false }),
    );
    const verifiedSeconds = await toGpu(source);
    return {
      model: manifest.name,
      bytes: manifest.size,
      chunkBytes: manifest.chunkBytes,
      pieceBytes,
      rawIndexedDbMBps: manifest.size / MB / rawSeconds,
      storeToGpuMBps: manifest.size / MB / verifiedSeconds,
      storeToGpuUnverifiedMBps: manifest.size / MB / unverifiedSeconds,
      gpu,
    };
  } finally {
    buffer.destroy();
  }
}

function copyPadded(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  out.set(bytes);
  return out;
}
