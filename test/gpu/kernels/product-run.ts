// Running one matrix product kernel (matrix-vector or GEMM) in a test: weights from a packed
// in-memory group, the input as given (f32 values, or words of an 8-bit input), the output
// poisoned first or holding the values a residual product adds to.
import { poison, readBuffer, storageBuffer } from '../harness';
import {
  matmulKernel,
  matmulWorkgroups,
  type MatmulSegment,
  type MatmulSpec,
} from '../../../src/engine/gguf/kernels/matmul';
import { gemmKernel, gemmWorkgroups, type GemmTiles } from '../../../src/engine/gguf/kernels/gemm';
import type { PipelineCache } from '../../../src/engine/gguf/kernels/pipeline';
import { weightParts } from '../../../src/engine/gguf/kernels/dequant';
import type { MemoryGroup } from '../reference/memory-group';

export interface ProductRun {
  spec: MatmulSpec;
  /** Run the product as the GEMM with these tiles; absent: the matrix-vector kernel. */
  gemm?: GemmTiles;
  group: MemoryGroup;
  /** Tensors bound in order, one binding per part (a fused tensor bound once per segment). */
  bound: string[];
  input: ArrayBufferView;
  ntok: number;
  /** Floats of the output buffer. */
  outLength: number;
  /** The output's values before the product (residual products); absent: poisoned. */
  y0?: Float32Array;
}

export async function runProduct(
  device: GPUDevice,
  cache: PipelineCache,
  r: ProductRun,
): Promise<Float32Array> {
  const kernel = await cache.get(
    r.gemm ? gemmKernel(r.spec, r.gemm) : matmulKernel(r.spec),
    'product',
  );
  const step = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(step, 0, new Uint32Array([r.ntok, 0, 0, 0]));
  const weights = storageBuffer(device, r.group.image);
  const input = storageBuffer(device, r.input);
  const y = storageBuffer(device, r.outLength * 4);
  if (r.y0) device.queue.writeBuffer(y, 0, r.y0);
  else poison(device, y);
  const parts = r.bound.flatMap((n) =>
    r.group.layout.matrices.get(n)!.parts.map((part) => ({
      buffer: weights,
      offset: part.offset,
      size: part.bytes,
    })),
  );
  const bind = cache.bindGroup(kernel, [
    { buffer: step },
    { buffer: input },
    { buffer: weights, offset: 0, size: Math.max(r.group.layout.vectorBytes, 16) },
    { buffer: y },
    ...parts,
  ]);
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(
    ...(r.gemm ? gemmWorkgroups(r.spec, r.ntok, r.gemm) : matmulWorkgroups(r.spec)),
  );
  pass.end();
  device.queue.submit([encoder.finish()]);
  const out = new Float32Array(await readBuffer(device, y));
  for (const b of [step, weights, input, y]) b.destroy();
  return out;
}

/** The named matrices of `group` as a product's segments, their outputs side by side. */
export function productSegments(group: MemoryGroup, names: string[]): MatmulSegment[] {
  let column = 0;
  return names.map((name) => {
    const m = group.layout.matrices.get(name)!;
    const segment = {
      parts: weightParts(m),
      rows: m.rows,
      outColumn: column,
      biasIndex: group.layout.vectors.get(`${name}.bias`)?.index,
    };
    column += m.rows;
    return segment;
  });
}

/**
 * Row r (of length k) of `name` in `group` times input x, in f64: the product and the sum of
 * |w x| that bounds its rounding error.
 */
export function referenceDot(
  group: MemoryGroup,
  name: string,
  x: ArrayLike<number>,
  r: number,
  k: number,
): [number, number] {
  const w = group.values.get(name)!;
  let sum = 0;
  let abs = 0;
  for (let i = 0; i < k; i++) {
    sum += w[r * k + i] * x[i];
    abs += Math.abs(w[r * k + i] * x[i]);
  }
  return [sum, abs];
}
