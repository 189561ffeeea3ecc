import { describe, expect, it } from 'vitest';
import { openTestDevice, readBuffer, storageBuffer } from './harness';
import { PACED_WAIT_MS, pendingPacedWaits } from '../../src/gpu/node-pacing';
import { waitForPass } from '../../src/gpu/pass-wait';

// A dispatch long enough for many event-loop turns: each thread of 64 workgroups runs 2^18 steps
// of a linear congruential sequence.
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

describe('waits on passes, paced on dawn.node', () => {
  it('sleep the main thread between polls while pending, then stop', async () => {
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

    // Event-loop turns while the wait is pending: each paced turn sleeps PACED_WAIT_MS, so there
    // are no more than the elapsed time allows (unpaced, a turn takes microseconds).
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    const start = performance.now();
    setImmediate(count);
    const done = waitForPass(device.queue.onSubmittedWorkDone());
    expect(pendingPacedWaits()).toBe(1);
    await done;
    const elapsed = performance.now() - start;
    counting = false;
    expect(pendingPacedWaits()).toBe(0);
    expect(elapsed).toBeGreaterThan(20 * PACED_WAIT_MS);
    expect(turns).toBeLessThanOrEqual(elapsed / PACED_WAIT_MS + 2);
    const words = new Uint32Array(await readBuffer(device, out));
    for (const i of [0, 1, 63, 4095]) expect(words[i]).toBe(lcg(i));
    device.destroy();
  });

  it('count a rejected map as settled', async () => {
    const { device } = await openTestDevice('swiftshader');
    const buffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ });
    buffer.destroy();
    await expect(waitForPass(buffer.mapAsync(GPUMapMode.READ))).rejects.toThrow();
    expect(pendingPacedWaits()).toBe(0);
    device.destroy();
  });
});
