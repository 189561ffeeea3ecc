import { describe, expect, it } from 'vitest';
import { openTestDevice, readBuffer, storageBuffer } from './harness';
import { PACED_WAIT_MS, pendingPacedWaits } from '../../src/gpu/node-pacing';
import { waitForPass } from '../../src/gpu/pass-wait';

// A dispatch that keeps lavapipe busy a while: each thread of 64 workgroups runs 2^18 steps of a
// linear congruential sequence.
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

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('waits on passes, paced on dawn.node', () => {
  it('sleep the main thread every event-loop turn while pending', async () => {
    // Opening a device installs dawn.node's globals and with them the paced wait.
    const { device } = await openTestDevice('swiftshader');
    let release!: () => void;
    const done = waitForPass(new Promise<void>((resolve) => (release = resolve)));
    expect(pendingPacedWaits()).toBe(1);
    const start = performance.now();
    for (let turn = 0; turn < 20; turn++) await nextTurn();
    // A lower bound, not a speed: each turn after the first slept PACED_WAIT_MS at least
    // (unpaced, twenty turns take microseconds).
    const sleptMs = performance.now() - start;
    release();
    await done;
    expect(pendingPacedWaits()).toBe(0);
    expect(sleptMs).toBeGreaterThanOrEqual(19 * PACED_WAIT_MS);
    device.destroy();
  });

  it('settle with the pass: a dispatch waited for, then its results read', async () => {
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
    const done = waitForPass(device.queue.onSubmittedWorkDone());
    expect(pendingPacedWaits()).toBe(1);
    await done;
    expect(pendingPacedWaits()).toBe(0);
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
