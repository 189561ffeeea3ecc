// A per-kernel time profile of one decode token, taken from the bench side: the compute passes the
// engine encodes while it runs one token are recorded at the WebGPU API (pipeline, bind groups,
// workgroup counts: no engine hook), then each recorded dispatch is replayed alone in its own
// compute pass and timed, with timestamp queries where the device has `timestamp-query`, else by
// the wall time of a submission holding only that dispatch, less an empty submission's. Dispatches
// are named by their bind group's label (`blk.3.qkv`), else their pipeline's, and grouped by role
// (`qkv`) over the layers. The replay rewrites the buffers the token wrote, so it runs last.
import { median } from './stats.ts';

export interface RecordedDispatch {
  name: string;
  pipeline: GPUComputePipeline;
  bindGroups: [number, GPUBindGroup | null][];
  workgroups: [number, number, number];
}

export interface Recording {
  dispatches: RecordedDispatch[];
  submissions: number;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** Records the dispatches and submissions `action` makes on `device`; the wrappers go after. */
export async function recordDevice(
  device: GPUDevice,
  action: () => Promise<void>,
): Promise<Recording> {
  const recording: Recording = { dispatches: [], submissions: 0 };
  const target = device as Writable<GPUDevice>;
  const queue = device.queue as Writable<GPUQueue>;
  const createEncoder = device.createCommandEncoder;
  const submit = queue.submit;
  target.createCommandEncoder = (descriptor?: GPUCommandEncoderDescriptor) => {
    const encoder = createEncoder.call(device, descriptor) as Writable<GPUCommandEncoder>;
    const beginPass = encoder.beginComputePass;
    encoder.beginComputePass = (passDescriptor?: GPUComputePassDescriptor) => {
      const pass = beginPass.call(encoder, passDescriptor) as Writable<GPUComputePassEncoder>;
      let pipeline: GPUComputePipeline | null = null;
      const groups = new Map<number, GPUBindGroup | null>();
      const setPipeline = pass.setPipeline;
      const setBindGroup = pass.setBindGroup;
      const dispatch = pass.dispatchWorkgroups;
      pass.setPipeline = (p: GPUComputePipeline) => {
        pipeline = p;
        setPipeline.call(pass, p);
      };
      pass.setBindGroup = ((index: number, group: GPUBindGroup | null, ...rest: unknown[]) => {
        if (rest.length) throw new Error('the profile does not replay dynamic offsets');
        groups.set(index, group);
        (setBindGroup as (i: number, g: GPUBindGroup | null) => void).call(pass, index, group);
      }) as GPUComputePassEncoder['setBindGroup'];
      pass.dispatchWorkgroups = (x: number, y = 1, z = 1) => {
        const first = groups.get(0)?.label;
        recording.dispatches.push({
          name: first && first !== 'bind group' ? first : (pipeline?.label ?? 'kernel'),
          pipeline: pipeline!,
          bindGroups: [...groups],
          workgroups: [x, y, z],
        });
        dispatch.call(pass, x, y, z);
      };
      return pass;
    };
    return encoder;
  };
  queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
    recording.submissions++;
    submit.call(device.queue, buffers);
  };
  try {
    await action();
  } finally {
    delete (target as Partial<Writable<GPUDevice>>).createCommandEncoder;
    delete (queue as Partial<Writable<GPUQueue>>).submit;
  }
  return recording;
}

function encodeDispatch(pass: GPUComputePassEncoder, d: RecordedDispatch): void {
  pass.setPipeline(d.pipeline);
  for (const [index, group] of d.bindGroups) pass.setBindGroup(index, group);
  pass.dispatchWorkgroups(...d.workgroups);
}

const MAX_QUERIES = 4096;

/** Milliseconds of each dispatch, from timestamps written at the start and end of its pass. */
async function timestampRound(
  device: GPUDevice,
  dispatches: RecordedDispatch[],
): Promise<number[]> {
  const out: number[] = [];
  for (let from = 0; from < dispatches.length; from += MAX_QUERIES / 2) {
    const part = dispatches.slice(from, from + MAX_QUERIES / 2);
    const count = part.length * 2;
    const querySet = device.createQuerySet({ type: 'timestamp', count });
    const resolved = device.createBuffer({
      size: count * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const read = device.createBuffer({
      size: count * 8,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = device.createCommandEncoder();
    part.forEach((d, i) => {
      const pass = encoder.beginComputePass({
        timestampWrites: {
          querySet,
          beginningOfPassWriteIndex: 2 * i,
          endOfPassWriteIndex: 2 * i + 1,
        },
      });
      encodeDispatch(pass, d);
      pass.end();
    });
    encoder.resolveQuerySet(querySet, 0, count, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, read, 0, count * 8);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const ns = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    for (let i = 0; i < part.length; i++) out.push(Number(ns[2 * i + 1] - ns[2 * i]) / 1e6);
    querySet.destroy();
    resolved.destroy();
    read.destroy();
  }
  return out;
}

async function submitAndWait(device: GPUDevice, d: RecordedDispatch | null): Promise<number> {
  const encoder = device.createCommandEncoder();
  if (d) {
    const pass = encoder.beginComputePass();
    encodeDispatch(pass, d);
    pass.end();
  }
  const start = performance.now();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  return performance.now() - start;
}

/** Milliseconds of each dispatch submitted alone, less an empty submission's round trip. */
async function isolatedRound(device: GPUDevice, dispatches: RecordedDispatch[]): Promise<number[]> {
  const empty: number[] = [];
  for (let i = 0; i < 5; i++) empty.push(await submitAndWait(device, null));
  const overhead = median(empty);
  const out: number[] = [];
  for (const d of dispatches) out.push(Math.max(0, (await submitAndWait(device, d)) - overhead));
  return out;
}

export interface KernelTime {
  /** The dispatch's role: its name without the layer prefix. */
  role: string;
  dispatches: number;
  /** Per token, summed over the layers (median over the rounds for each dispatch). */
  ms: number;
  share: number;
}

export interface KernelProfile {
  method: 'timestamp-query' | 'isolated dispatches';
  totalMs: number;
  kernels: KernelTime[];
}

/**
 * Per role (a dispatch's name without its `blk.N.` prefix), the dispatches and the sum of each
 * dispatch's median time over the rounds; largest first, with each role's share of the total.
 */
export function kernelTimes(names: readonly string[], rounds: readonly number[][]): KernelTime[] {
  const byRole = new Map<string, { dispatches: number; ms: number }>();
  names.forEach((name, i) => {
    const role = name.replace(/^blk\.\d+\./, '');
    const entry = byRole.get(role) ?? { dispatches: 0, ms: 0 };
    entry.dispatches++;
    entry.ms += median(rounds.map((round) => round[i]));
    byRole.set(role, entry);
  });
  const total = [...byRole.values()].reduce((a, e) => a + e.ms, 0);
  return [...byRole]
    .map(([role, e]) => ({ role, ...e, share: total > 0 ? e.ms / total : 0 }))
    .sort((a, b) => b.ms - a.ms);
}

export async function profileDispatches(
  device: GPUDevice,
  dispatches: RecordedDispatch[],
  rounds = 3,
): Promise<KernelProfile> {
  const timestamps = device.features.has('timestamp-query');
  const perRound: number[][] = [];
  for (let r = 0; r < rounds; r++) {
    perRound.push(
      timestamps
        ? await timestampRound(device, dispatches)
        : await isolatedRound(device, dispatches),
    );
  }
  const kernels = kernelTimes(
    dispatches.map((d) => d.name),
    perRound,
  );
  const totalMs = kernels.reduce((a, k) => a + k.ms, 0);
  return { method: timestamps ? 'timestamp-query' : 'isolated dispatches', totalMs, kernels };
}
