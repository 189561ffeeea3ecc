import { describe, expect, it } from 'vitest';
import { openTestDevice, poison, random, readBuffer, storageBuffer } from '../harness';
import { GGMLType, typeName } from '../../../src/engine/gguf/types';
import {
  matmulKernel,
  matmulWorkgroups,
  type MatmulSpec,
} from '../../../src/engine/gguf/kernels/matmul';
import { PipelineCache } from '../../../src/engine/gguf/kernels/pipeline';
import type { ComputePrecision } from '../../../src/engine/gguf/buffer-plan';
import { memoryGroup, type MemoryGroup } from '../reference/memory-group';
import { roundActivations } from '../reference/dequant';

const K = 512;
const LANES = [1, 4, 16, 64, 2, 8, 32];
const TYPES = [
  GGMLType.F32,
  GGMLType.F16,
  GGMLType.BF16,
  GGMLType.Q8_0,
  GGMLType.Q4_0,
  GGMLType.Q5_0,
  GGMLType.Q4_K,
  GGMLType.Q5_K,
  GGMLType.Q6_K,
  GGMLType.Q4_1,
  GGMLType.Q5_1,
  GGMLType.Q2_K,
  GGMLType.Q3_K,
  GGMLType.IQ4_NL,
  GGMLType.IQ4_XS,
];
/** f32 compute: rounding of a 512-term f32 dot product. f16 compute dequantizes and multiplies in
 * f16 (11-bit significand, unit roundoff 4.9e-4); a few roundings per term give about 4e-3. */
const TOLERANCE: Record<ComputePrecision, number> = { f32: 1e-4, f16: 4e-3 };

interface Case {
  spec: MatmulSpec;
  names: string[];
  group: MemoryGroup;
  x: Float32Array;
  ntok: number;
  y0: Float32Array;
}

async function run(adapter: 'swiftshader' | 'lavapipe', precision: ComputePrecision, c: Case) {
  const { device } = await openTestDevice(adapter, { disableF16: precision === 'f32' });
  const cache = new PipelineCache(device);
  const kernel = await cache.get(matmulKernel(c.spec), 'matmul');
  const step = device.createBuffer({
    size: 16,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  device.queue.writeBuffer(step, 0, new Uint32Array([c.ntok, 0, 0, 0]));
  const weights = storageBuffer(device, c.group.image);
  const x = storageBuffer(device, c.x);
  const y = storageBuffer(device, c.y0.byteLength);
  if (c.spec.mode === 'residual') device.queue.writeBuffer(y, 0, c.y0);
  else poison(device, y);
  const parts = c.names.flatMap((n) =>
    c.group.layout.matrices.get(n)!.parts.map((p) => ({ offset: p.offset, size: p.bytes })),
  );
  const bind = cache.bindGroup(kernel, [
    { buffer: step },
    { buffer: x },
    { buffer: weights, offset: 0, size: c.group.layout.vectorBytes },
    { buffer: y },
    ...parts.map((p) => ({ buffer: weights, offset: p.offset, size: p.size })),
  ]);
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(...matmulWorkgroups(c.spec));
  pass.end();
  device.queue.submit([encoder.finish()]);
  const out = new Float32Array(await readBuffer(device, y));
  device.destroy();
  return out;
}

function segmentsOf(group: MemoryGroup, names: string[]) {
  let column = 0;
  return names.map((name) => {
    const m = group.layout.matrices.get(name)!;
    const seg = {
      parts: m.parts.map((p) => ({ rowStart: p.rowStart, rows: p.rows, type: m.type })),
      rows: m.rows,
      outColumn: column,
      biasIndex: group.layout.vectors.get(`${name}.bias`)?.index,
    };
    column += m.rows;
    return seg;
  });
}

/** y for token t, row r of `name`, and the sum of |w x| that bounds its rounding error. */
function referenceDot(
  group: MemoryGroup,
  name: string,
  x: Float64Array,
  r: number,
): [number, number] {
  const w = group.values.get(name)!;
  let sum = 0;
  let abs = 0;
  for (let k = 0; k < K; k++) {
    sum += w[r * K + k] * x[k];
    abs += Math.abs(w[r * K + k] * x[k]);
  }
  return [sum, abs];
}

function tokenInput(x: Float32Array, t: number): Float64Array {
  return Float64Array.from(x.subarray(t * K, (t + 1) * K));
}

function randomX(ntok: number, seed: number): Float32Array {
  const next = random(seed);
  return Float32Array.from({ length: ntok * K }, () => next() * 4 - 2);
}

const configs: [string, ComputePrecision][] = [
  ['swiftshader', 'f32'],
  ['lavapipe', 'f32'],
  ['lavapipe', 'f16'],
];

describe.each(configs)('matmul kernels on %s, %s compute', (adapter, precision) => {
  const tol = TOLERANCE[precision];
  it.each(TYPES.map((t, i) => [typeName(t), t, LANES[i % LANES.length]] as const))(
    '%s: two segments split by rows, bias, 5 tokens, %i lanes per row',
    async (_, type, lanes) => {
      const rowsA = 37;
      const rowsB = 12;
      const tensors = [
        { name: 'b.bias', type: GGMLType.F32, dims: [rowsB] },
        { name: 'a', type, dims: [K, rowsA] },
        { name: 'b', type, dims: [K, rowsB] },
      ];
      const probe = await memoryGroup(tensors, 1);
      const cap = probe.layout.matrices.get('a')!.rowBytes * 20;
      const group = await memoryGroup(tensors, 1, cap);
      expect(group.layout.matrices.get('a')!.parts.length).toBe(2);
      const ntok = 5;
      const stride = rowsA + rowsB + 3;
      const spec: MatmulSpec = {
        precision,
        inputLength: K,
        inputStride: K,
        outputStride: stride,
        mode: 'plain',
        segments: segmentsOf(group, ['a', 'b']),
        lanesPerRow: lanes,
      };
      const x = randomX(ntok, 2);
      const y = await run(adapter as 'lavapipe', precision, {
        spec,
        names: ['a', 'b'],
        group,
        x,
        ntok,
        y0: new Float32Array(ntok * stride),
      });
      const bias = group.values.get('b.bias')!;
      for (let t = 0; t < ntok; t++) {
        const xn = tokenInput(x, t);
        for (let r = 0; r < rowsA + rowsB; r++) {
          const [ref, abs] =
            r < rowsA ? referenceDot(group, 'a', xn, r) : referenceDot(group, 'b', xn, r - rowsA);
          const expected = r < rowsA ? ref : ref + bias[r - rowsA];
          expect(
            Math.abs(y[t * stride + r] - expected) / (abs + 1e-30),
            `token ${t} row ${r}`,
          ).toBeLessThan(tol);
        }
        for (let r = rowsA + rowsB; r < stride; r++)
          expect(Number.isNaN(y[t * stride + r])).toBe(true);
      }
    },
  );

  it('inputs rounded as llama.cpp does for F16, BF16, Q8_0, Q4_K and Q6_K weights', async () => {
    const types = [GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0, GGMLType.Q4_K, GGMLType.Q6_K];
    const rows = 9;
    const tensors = [...types.map((type, i) => ({ name: `w${i}`, type, dims: [K, rows] }))];
    const group = await memoryGroup(tensors, 5);
    const names = types.map((_, i) => `w${i}`);
    const ntok = 3;
    const stride = rows * types.length;
    const x = randomX(ntok, 6);
    const y = await run(adapter as 'lavapipe', precision, {
      spec: {
        precision,
        inputLength: K,
        inputStride: K,
        outputStride: stride,
        mode: 'plain',
        segments: segmentsOf(group, names),
        lanesPerRow: 4,
        roundActivations: true,
      },
      names,
      group,
      x,
      ntok,
      y0: new Float32Array(ntok * stride),
    });
    for (let t = 0; t < ntok; t++) {
      const xn = tokenInput(x, t);
      types.forEach((type, i) => {
        const xr = roundActivations(type, xn);
        for (let r = 0; r < rows; r++) {
          const [ref, abs] = referenceDot(group, `w${i}`, xr, r);
          const got = y[t * stride + i * rows + r];
          expect(
            Math.abs(got - ref) / (abs + 1e-30),
            `${typeName(type)} token ${t} row ${r}`,
          ).toBeLessThan(tol);
        }
      });
    }
  });

  it('residual add and SwiGLU over mixed types', async () => {
    const ff = 24;
    const group = await memoryGroup(
      [
        { name: 'gate', type: GGMLType.Q4_K, dims: [K, ff] },
        { name: 'up', type: GGMLType.Q6_K, dims: [K, ff] },
        { name: 'down', type: GGMLType.Q8_0, dims: [K, ff] },
      ],
      3,
    );
    const ntok = 6;
    const x = randomX(ntok, 4);
    const swiglu = await run(adapter as 'lavapipe', precision, {
      spec: {
        precision,
        inputLength: K,
        inputStride: K,
        outputStride: ff,
        mode: 'swiglu',
        segments: segmentsOf(group, ['gate', 'up']),
      },
      names: ['gate', 'up'],
      group,
      x,
      ntok,
      y0: new Float32Array(ntok * ff),
    });
    const y0 = Float32Array.from({ length: ntok * ff }, (_, i) => Math.sin(i));
    const residual = await run(adapter as 'lavapipe', precision, {
      spec: {
        precision,
        inputLength: K,
        inputStride: K,
        outputStride: ff,
        mode: 'residual',
        segments: segmentsOf(group, ['down']),
      },
      names: ['down'],
      group,
      x,
      ntok,
      y0,
    });
    for (let t = 0; t < ntok; t++) {
      const xt = tokenInput(x, t);
      for (let r = 0; r < ff; r++) {
        const [g, ga] = referenceDot(group, 'gate', xt, r);
        const [u, ua] = referenceDot(group, 'up', xt, r);
        const silu = g / (1 + Math.exp(-g));
        const bound = ga * Math.abs(u) + ua * Math.abs(silu) + 1e-30;
        expect(Math.abs(swiglu[t * ff + r] - silu * u) / bound, `swiglu ${t},${r}`).toBeLessThan(
          tol,
        );
        const [d, da] = referenceDot(group, 'down', xt, r);
        const i = t * ff + r;
        expect(
          Math.abs(residual[i] - (y0[i] + d)) / (da + Math.abs(y0[i])),
          `residual ${t},${r}`,
        ).toBeLessThan(tol);
      }
    }
  });
});
