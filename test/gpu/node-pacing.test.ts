import { describe, expect, it } from 'vitest';
import { openTestDevice, readBuffer, storageBuffer } from './harness';
import { PACED_WAIT_MS, pendingGpuWaits } from '../../src/gpu/node-pacing';

// A dispatch long enough for many event-loop turns: each thread of 64 workgroups sums a
// sequence of 2^18 terms.
const SLOW = `
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u) {
  var a = g.x;
  for (var i = 0u; i < 262144u; i++) { a = a * 1664525u + 1013904223u; }
  out[g.x] = a;
}`;

function lcg(seed: number): number {
  let a = seed;
  for (let i = 0; i < 262144; i++) a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
  return a;
}

describe('paced GPU waits on dawn.node', () => {
  it('sleeps the main thread between polls while a map is pending, then stops', async () => {
    const { device } = await openTestDevice('lavapipe');
    const pipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module: device.createShaderModule({ code: SLOW }), entryPoint: 'main' },
    });
    const out = storageBuffer(device, 64 * 64 * 4);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(
      0,
      device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [{ binding: 0, resource: { buffer: out } }],
      }),
    );
    pass.dispatchWorkgroups(64);
    pass.end();
    device.queue.submit([encoder.finish()]);

    // Event-loop turns while the copy and its map wait on the dispatch: each paced turn sleeps
    // PACED_WAIT_MS, so no more than the elapsed time allows (unpaced, a turn takes microseconds).
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    const start = performance.now();
    setImmediate(count);
    const read = readBuffer(device, out);
    await Promise.resolve();
    expect(pendingGpuWaits()).toBe(1);
    const words = new Uint32Array(await read);
    const elapsed = performance.now() - start;
    counting = false;
    expect(pendingGpuWaits()).toBe(0);
    expect(elapsed).toBeGreaterThan(20 * PACED_WAIT_MS);
    expect(turns).toBeLessThanOrEqual(elapsed / PACED_WAIT_MS + 2);
    for (const i of [0, 1, 63, 4095]) expect(words[i]).toBe(lcg(i));
    device.destroy();
  });

  it('counts a rejected map as finished', async () => {
    const { device } = await openTestDevice('swiftshader');
    const buffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ });
    buffer.destroy();
    await expect(buffer.mapAsync(GPUMapMode.READ)).rejects.toThrow();
    expect(pendingGpuWaits()).toBe(0);
    device.destroy();
  });
});
