// Shared helpers for GPU tests on dawn.node: open a device on a named software adapter,
// upload inputs, poison outputs, run one dispatch, read back.
import { openNodeDevice, type NodeAdapterName } from '../../src/gpu/node-gpu';
import type { EngineDevice } from '../../src/gpu/device';

export const ADAPTERS: NodeAdapterName[] = ['swiftshader', 'lavapipe'];

/** A value no kernel computes by accident: a NaN with a distinctive payload. */
export const POISON_BITS = 0x7fbadbad;

export async function openTestDevice(
  adapter: NodeAdapterName,
  options: { disableF16?: boolean } = {},
): Promise<EngineDevice> {
  return openNodeDevice(adapter, options);
}

export function storageBuffer(device: GPUDevice, data: ArrayBufferView | number): GPUBuffer {
  const size = typeof data === 'number' ? data : data.byteLength;
  const buffer = device.createBuffer({
    size: Math.max(4, Math.ceil(size / 4) * 4),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  if (typeof data !== 'number') {
    device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  }
  return buffer;
}

export function poison(device: GPUDevice, buffer: GPUBuffer): void {
  const words = new Uint32Array(buffer.size / 4).fill(POISON_BITS);
  device.queue.writeBuffer(buffer, 0, words);
}

export async function readBuffer(device: GPUDevice, buffer: GPUBuffer): Promise<ArrayBuffer> {
  const staging = device.createBuffer({
    size: buffer.size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0);
  staging.destroy();
  return copy;
}

export async function runCompute(
  device: GPUDevice,
  code: string,
  buffers: GPUBuffer[],
  workgroups: number,
): Promise<void> {
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((m) => m.type === 'error');
  if (errors.length) throw new Error(errors.map((m) => m.message).join('\n'));
  device.pushErrorScope('validation');
  const pipeline = device.createComputePipeline({
    layout: 'auto',
    compute: { module, entryPoint: 'main' },
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(workgroups);
  pass.end();
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  if (error) throw new Error(error.message);
}

/** Deterministic pseudo-random numbers (mulberry32) so failures reproduce. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
