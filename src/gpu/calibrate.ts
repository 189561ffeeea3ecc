// The calibration probe: how much GPU memory this device really gives, how fast weights upload and
// how fast a matrix-vector kernel reads them. WebGPU reports no VRAM figure and some drivers page
// to system memory instead of failing, so the probe allocates fixed-size chunks up to a target
// (never "until failure"), each inside an out-of-memory error scope, and clears each one on the GPU
// so the memory is really committed. The chunks are handed back to be kept as the engine's arena.

const MiB = 2 ** 20;

export interface CalibrationOptions {
  /** Allocate up to this many bytes, and no more. */
  targetBytes: number;
  /** Size of each chunk; default 64 MiB, at most the device's maxBufferSize. */
  chunkBytes?: number;
  /** Measure writeBuffer bandwidth (default true). */
  measureUpload?: boolean;
  /** Measure the weight read rate of a matrix-vector kernel (default true). */
  measureCompute?: boolean;
}

export interface CalibrationResult {
  /** Bytes allocated and written: a memory budget the device has shown it can hold. */
  allocatedBytes: number;
  /** The allocated chunks, still alive: the caller keeps them as the arena or destroys them. */
  chunks: GPUBuffer[];
  /** `target` when every chunk up to the target succeeded, else the error that stopped it. */
  stoppedBy: 'target' | 'out-of-memory' | 'validation';
  stopMessage: string | null;
  uploadBytesPerSecond: number | null;
  computeBytesPerSecond: number | null;
  /** Seconds for one submission and the read-back of a token id: the floor of a decode step. */
  roundTripSeconds: number;
}

const UPLOAD_WRITE_BYTES = 8 * MiB;
const UPLOAD_TOTAL_BYTES = 128 * MiB;
/** Bytes per matrix row in the compute probe: 4096 int8 weights, as in a 4096-wide model. */
export const MATVEC_ROW_BYTES = 4096;
const MATVEC_WORKGROUP = 64;
const MAX_WORKGROUPS = 65535;
const MAX_MATRIX_BYTES = 64 * MiB;
/** Long enough to dwarf timer and submission overheads. */
const MEASURE_SECONDS = 0.05;

// One workgroup per row; each u32 holds four int8 weights, sign-extended exactly by shifts.
const MATVEC_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> weights: array<u32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
const ROW_WORDS: u32 = ${MATVEC_ROW_BYTES / 4}u;
const WG: u32 = ${MATVEC_WORKGROUP}u;
var<workgroup> partial: array<f32, ${MATVEC_WORKGROUP}>;

@compute @workgroup_size(${MATVEC_WORKGROUP})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  var acc = 0.0;
  for (var i = lid; i < ROW_WORDS; i += WG) {
    let w = weights[row * ROW_WORDS + i];
    let c = i * 4u;
    acc += f32(bitcast<i32>(w << 24u) >> 24u) * x[c]
         + f32(bitcast<i32>(w << 16u) >> 24u) * x[c + 1u]
         + f32(bitcast<i32>(w << 8u) >> 24u) * x[c + 2u]
         + f32(bitcast<i32>(w) >> 24u) * x[c + 3u];
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { y[row] = partial[0]; }
}
`;

async function allocateChunk(
  device: GPUDevice,
  size: number,
  index: number,
): Promise<{ buffer: GPUBuffer } | { error: GPUError; kind: 'out-of-memory' | 'validation' }> {
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  const buffer = device.createBuffer({
    label: `arena.${index}`,
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
  });
  const encoder = device.createCommandEncoder();
  encoder.clearBuffer(buffer);
  device.queue.submit([encoder.finish()]);
  const oom = await device.popErrorScope();
  const invalid = await device.popErrorScope();
  if (oom || invalid) {
    buffer.destroy();
    return oom ? { error: oom, kind: 'out-of-memory' } : { error: invalid!, kind: 'validation' };
  }
  return { buffer };
}

/** Host-to-GPU bandwidth of queue.writeBuffer in 8 MiB writes, the size streamed layers use. */
export async function measureUpload(device: GPUDevice, target: GPUBuffer): Promise<number> {
  const write = Math.min(UPLOAD_WRITE_BYTES, target.size - (target.size % 4));
  const data = new Uint8Array(write);
  for (let i = 0; i < write; i += 4096) data[i] = i & 0xff;
  device.queue.writeBuffer(target, 0, data);
  await device.queue.onSubmittedWorkDone();
  const writes = Math.max(1, Math.round(UPLOAD_TOTAL_BYTES / write));
  const start = performance.now();
  for (let i = 0; i < writes; i++) device.queue.writeBuffer(target, 0, data);
  await device.queue.onSubmittedWorkDone();
  const seconds = (performance.now() - start) / 1000;
  return (writes * write) / Math.max(seconds, 1e-6);
}

export interface MatvecProbe {
  weights: GPUBuffer;
  input: GPUBuffer;
  output: GPUBuffer;
  rows: number;
  /** Encodes one pass over the whole matrix. */
  encode(encoder: GPUCommandEncoder): void;
}

/**
 * A matrix-vector product over int8 weights (4096 per row, read as u32 words with exact sign
 * extension) against an f32 vector: the memory traffic of a decode step's matrix kernels.
 */
export function createMatvecProbe(device: GPUDevice, rows: number): MatvecProbe {
  if (rows < 1 || rows > MAX_WORKGROUPS) {
    throw new RangeError(`The matrix-vector probe runs 1 to ${MAX_WORKGROUPS} rows, not ${rows}.`);
  }
  const module = device.createShaderModule({ label: 'calibrate.matvec', code: MATVEC_WGSL });
  const pipeline = device.createComputePipeline({
    label: 'calibrate.matvec',
    layout: 'auto',
    compute: { module, entryPoint: 'main' },
  });
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
  const weights = device.createBuffer({ size: rows * MATVEC_ROW_BYTES, usage });
  const input = device.createBuffer({ size: MATVEC_ROW_BYTES * 4, usage });
  const output = device.createBuffer({ size: rows * 4, usage });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [weights, input, output].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  return {
    weights,
    input,
    output,
    rows,
    encode(encoder) {
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(rows);
      pass.end();
    },
  };
}

async function timePasses(device: GPUDevice, probe: MatvecProbe, passes: number): Promise<number> {
  const encoder = device.createCommandEncoder();
  for (let i = 0; i < passes; i++) probe.encode(encoder);
  const start = performance.now();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  return (performance.now() - start) / 1000;
}

async function matvecRate(
  device: GPUDevice,
  rows: number,
  passes: number,
): Promise<{ rate: number; seconds: number }> {
  const probe = createMatvecProbe(device, rows);
  try {
    await timePasses(device, probe, 1);
    const seconds = await timePasses(device, probe, passes);
    return { rate: (passes * rows * MATVEC_ROW_BYTES) / Math.max(seconds, 1e-6), seconds };
  } finally {
    probe.weights.destroy();
    probe.input.destroy();
    probe.output.destroy();
  }
}

/**
 * Bytes of weights per second the matrix-vector probe reads. A 1 MiB pass sizes the real
 * measurement, so a software adapter (tens of MB/s) is done in a fraction of a second while a
 * real GPU reads a matrix too large for its caches.
 */
export async function measureCompute(device: GPUDevice): Promise<number> {
  const small = await matvecRate(device, MiB / MATVEC_ROW_BYTES, 1);
  if (small.seconds >= MEASURE_SECONDS) return small.rate;
  const bytes = Math.min(MAX_MATRIX_BYTES, small.rate * MEASURE_SECONDS);
  const rows = Math.min(MAX_WORKGROUPS, Math.max(1, Math.floor(bytes / MATVEC_ROW_BYTES)));
  return (await matvecRate(device, rows, 4)).rate;
}

/** Average seconds of a decode step's fixed part: submit a copy, map the 4 result bytes back. */
export async function measureRoundTrip(device: GPUDevice, trips = 8): Promise<number> {
  const source = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const readback = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const trip = async () => {
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(source, 0, readback, 0, 4);
    device.queue.submit([encoder.finish()]);
    await readback.mapAsync(GPUMapMode.READ, 0, 4);
    readback.unmap();
  };
  try {
    await trip();
    const start = performance.now();
    for (let i = 0; i < trips; i++) await trip();
    return (performance.now() - start) / 1000 / trips;
  } finally {
    source.destroy();
    readback.destroy();
  }
}

export async function calibrate(
  device: GPUDevice,
  options: CalibrationOptions,
): Promise<CalibrationResult> {
  const chunkBytes = options.chunkBytes ?? 64 * MiB;
  if (!(chunkBytes > 0) || chunkBytes % 4 || chunkBytes > device.limits.maxBufferSize) {
    throw new RangeError(
      `Calibration chunks of ${chunkBytes} bytes are invalid: use a multiple of 4 up to this device's maxBufferSize (${device.limits.maxBufferSize}).`,
    );
  }
  if (!(options.targetBytes > 0)) {
    throw new RangeError(
      `The calibration target must be a positive number of bytes, got ${options.targetBytes}.`,
    );
  }
  const chunks: GPUBuffer[] = [];
  let allocatedBytes = 0;
  let stoppedBy: CalibrationResult['stoppedBy'] = 'target';
  let stopMessage: string | null = null;
  while (allocatedBytes < options.targetBytes) {
    const size = Math.min(chunkBytes, Math.ceil((options.targetBytes - allocatedBytes) / 4) * 4);
    const result = await allocateChunk(device, size, chunks.length);
    if ('error' in result) {
      stoppedBy = result.kind;
      stopMessage = result.error.message;
      break;
    }
    chunks.push(result.buffer);
    allocatedBytes += size;
  }
  const uploadBytesPerSecond =
    options.measureUpload !== false && chunks.length
      ? await measureUpload(device, chunks[0])
      : null;
  const computeBytesPerSecond =
    options.measureCompute !== false ? await measureCompute(device) : null;
  return {
    allocatedBytes,
    chunks,
    stoppedBy,
    stopMessage,
    uploadBytesPerSecond,
    computeBytesPerSecond,
    roundTripSeconds: await measureRoundTrip(device),
  };
}
