// A real GPU's memory bandwidth: the vendor's figure for the card Dawn names, where this table
// knows it, and in any case a measured one (large buffer-to-buffer copies on the device, counted
// as bytes read plus bytes written), so the fraction of the bound can be given on any card.

/** Peak memory bandwidth in GB/s from the vendors' data sheets; the first match wins. */
const CARDS: [RegExp, number][] = [
  [/H200/i, 4800],
  [/H100 NVL/i, 3900],
  [/H100 PCIe/i, 2000],
  [/H100/i, 3350],
  [/A100[- ]SXM4?[- ]80GB/i, 2039],
  [/A100 80GB PCIe/i, 1935],
  [/A100/i, 1555],
  [/L40S|L40\b/i, 864],
  [/\bL4\b/i, 300],
  [/A10G/i, 600],
  [/\bA10\b/i, 600],
  [/\bT4\b/i, 320],
  [/V100/i, 900],
  [/RTX 4090/i, 1008],
  [/RTX 4080/i, 717],
  [/RTX 3090/i, 936],
  [/RTX 3080/i, 760],
  [/Radeon RX 7900 XTX/i, 960],
  [/Apple M2 Max/i, 400],
];

export function cardBandwidth(name: string): { gbps: number; pattern: string } | undefined {
  const hit = CARDS.find(([pattern]) => pattern.test(name));
  return hit && { gbps: hit[1], pattern: hit[0].source };
}

/** GB/s moved by `copyBufferToBuffer` (read + write), best of a few rounds. */
export async function measureCopyBandwidth(
  device: GPUDevice,
  bytes = 256 * 2 ** 20,
): Promise<number> {
  const size = Math.min(bytes, device.limits.maxBufferSize) & ~3;
  const usage = GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const a = device.createBuffer({ size, usage });
  const b = device.createBuffer({ size, usage });
  const copies = 8;
  let best = 0;
  try {
    for (let round = 0; round < 4; round++) {
      const encoder = device.createCommandEncoder();
      for (let i = 0; i < copies; i++) encoder.copyBufferToBuffer(a, 0, b, 0, size);
      const start = performance.now();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      const seconds = (performance.now() - start) / 1000;
      best = Math.max(best, (2 * size * copies) / seconds / 1e9);
    }
  } finally {
    a.destroy();
    b.destroy();
  }
  return best;
}
