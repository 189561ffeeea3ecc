// The matrix-vector kernels against an f64 reference on random inputs with poisoned outputs: every
// weight type, every fusion, and every variant an autotuner can pick (lanes per row, workgroup
// size, one-token or four-token body, subgroup or workgroup-memory reductions), each forced in
// turn, with row counts that do not divide the workgroup's rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDevice, random } from '../harness';
import { productSegments, referenceDot, runProduct } from './product-run';
import { GGMLType, typeName } from '../../../src/engine/gguf/types';
import {
  defaultDecodeVariant,
  activationRounding,
  sharedInputLanes,
  subgroupLanesFit,
  type MatmulSpec,
} from '../../../src/engine/gguf/kernels/matmul';
import type { EngineDevice } from '../../../src/gpu/device';
import { PipelineCache } from '../../../src/engine/gguf/kernels/pipeline';
import type { ComputePrecision } from '../../../src/engine/gguf/buffer-plan';
import { memoryGroup, type MemoryGroup } from '../reference/memory-group';
import { roundActivations } from '../reference/dequant';
import { adapterNames, classCandidates } from '../../../src/engine/gguf/variant-choice';
import type { GemmTiles } from '../../../src/engine/gguf/kernels/gemm';
import { defaultPrefillKernels } from '../../../src/engine/gguf/prefill-kernels';
import { classifyAdapter } from '../../../src/gpu/probe';

const K = 512;

type Variant = Required<
  Pick<MatmulSpec, 'lanesPerRow' | 'workgroupSize' | 'tokens' | 'subgroups' | 'rowsPerThread'>
>;

/** Subgroup variants use at most 4 lanes: both test adapters' smallest subgroup (SwiftShader). */
const VARIANTS: Variant[] = [
  { lanesPerRow: 1, workgroupSize: 64, tokens: 1, subgroups: false, rowsPerThread: 1 },
  { lanesPerRow: 4, workgroupSize: 64, tokens: 4, subgroups: false, rowsPerThread: 1 },
  { lanesPerRow: 4, workgroupSize: 128, tokens: 1, subgroups: true, rowsPerThread: 4 },
  { lanesPerRow: 16, workgroupSize: 64, tokens: 4, subgroups: false, rowsPerThread: 1 },
  { lanesPerRow: 2, workgroupSize: 32, tokens: 4, subgroups: true, rowsPerThread: 1 },
  { lanesPerRow: 64, workgroupSize: 256, tokens: 1, subgroups: false, rowsPerThread: 2 },
  { lanesPerRow: 8, workgroupSize: 256, tokens: 1, subgroups: false, rowsPerThread: 1 },
  { lanesPerRow: 1, workgroupSize: 64, tokens: 4, subgroups: false, rowsPerThread: 1 },
  { lanesPerRow: 4, workgroupSize: 64, tokens: 1, subgroups: true, rowsPerThread: 2 },
  { lanesPerRow: 1, workgroupSize: 16, tokens: 1, subgroups: false, rowsPerThread: 4 },
  { lanesPerRow: 4, workgroupSize: 32, tokens: 1, subgroups: true, rowsPerThread: 4 },
  { lanesPerRow: 1, workgroupSize: 32, tokens: 1, subgroups: false, rowsPerThread: 2 },
];

function variantName(v: Variant): string {
  return `${v.lanesPerRow} lanes x ${(v.workgroupSize / v.lanesPerRow) * v.rowsPerThread} rows (${v.rowsPerThread} per thread), ${v.tokens}-token body, ${v.subgroups ? 'subgroup' : 'workgroup-memory'} reduction`;
}
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
  /** Run the product as the GEMM with these tiles instead of the matrix-vector kernel. */
  gemm?: GemmTiles;
}

async function run(engineDevice: EngineDevice, c: Case) {
  const device = engineDevice.device;
  if (c.spec.subgroups) {
    const info = device.adapterInfo as GPUAdapterInfo & { subgroupMinSize?: number };
    expect(
      subgroupLanesFit(c.spec.lanesPerRow!, device.features.has('subgroups'), info.subgroupMinSize),
      'the device runs the forced subgroup variant',
    ).toBe(true);
  }
  return runProduct(device, new PipelineCache(device), {
    spec: c.spec,
    gemm: c.gemm,
    group: c.group,
    bound: c.names,
    input: c.x,
    ntok: c.ntok,
    outLength: c.y0.length,
    y0: c.spec.mode === 'residual' ? c.y0 : undefined,
  });
}

/** The step between neighbouring rounded values of input `k` (0 where the input is not quantized). */
function inputQuantum(x: Float64Array, k: number, type: GGMLType): number {
  const rounding = activationRounding(type);
  if (rounding !== 'q8_0' && rounding !== 'q8_k') return 0;
  const block = rounding === 'q8_0' ? 32 : 256;
  const start = k - (k % block);
  let amax = 0;
  for (let j = start; j < start + block; j++) amax = Math.max(amax, Math.abs(x[j]));
  return amax / 127;
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
  let device: EngineDevice;
  beforeAll(async () => {
    device = await openTestDevice(adapter as 'lavapipe', { disableF16: precision === 'f32' });
  });
  afterAll(() => device.device.destroy());

  it.each(
    TYPES.map((t, i) => {
      const variant = VARIANTS[i % VARIANTS.length];
      return [typeName(t), variantName(variant), t, variant] as const;
    }),
  )('%s: two segments split by rows, bias, 5 tokens, %s', async (_, _variant, type, variant) => {
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
      segments: productSegments(group, ['a', 'b']),
      ...variant,
    };
    const x = randomX(ntok, 2);
    const y = await run(device, {
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
          r < rowsA
            ? referenceDot(group, 'a', xn, r, K)
            : referenceDot(group, 'b', xn, r - rowsA, K);
        const expected = r < rowsA ? ref : ref + bias[r - rowsA];
        expect(
          Math.abs(y[t * stride + r] - expected) / (abs + 1e-30),
          `token ${t} row ${r}`,
        ).toBeLessThan(tol);
      }
      for (let r = rowsA + rowsB; r < stride; r++)
        expect(Number.isNaN(y[t * stride + r])).toBe(true);
    }
  });

  it.each(VARIANTS.map((v) => [variantName(v), v] as const))(
    'forced variant %s: q/k/v segments, fused gate/up with SwiGLU, soft-capped last token',
    async (_, variant) => {
      // 70 + 18 + 18 rows: no variant's rows per workgroup divide them all.
      const [rq, rk, rv] = [70, 18, 18];
      const ff = 21;
      const group = await memoryGroup(
        [
          { name: 'k.bias', type: GGMLType.F32, dims: [rk] },
          { name: 'v.bias', type: GGMLType.F32, dims: [rv] },
          { name: 'q', type: GGMLType.Q4_K, dims: [K, rq] },
          { name: 'k', type: GGMLType.Q8_0, dims: [K, rk] },
          { name: 'v', type: GGMLType.Q6_K, dims: [K, rv] },
          { name: 'gate_up', type: GGMLType.Q5_0, dims: [K, 2 * ff] },
        ],
        17,
      );
      const ntok = 3;
      const x = randomX(ntok, 9);
      const stride = rq + rk + rv + 2;
      const qkv = await run(device, {
        spec: {
          precision,
          inputLength: K,
          inputStride: K,
          outputStride: stride,
          mode: 'plain',
          segments: productSegments(group, ['q', 'k', 'v']),
          ...variant,
        },
        names: ['q', 'k', 'v'],
        group,
        x,
        ntok,
        y0: new Float32Array(ntok * stride),
      });
      const [whole] = productSegments(group, ['gate_up']);
      const swiglu = await run(device, {
        spec: {
          precision,
          inputLength: K,
          inputStride: K,
          outputStride: ff,
          mode: 'swiglu',
          segments: [
            { ...whole, rows: ff, outColumn: 0 },
            { ...whole, rows: ff, outColumn: 0, rowOffset: ff },
          ],
          ...variant,
        },
        names: ['gate_up', 'gate_up'],
        group,
        x,
        ntok,
        y0: new Float32Array(ntok * ff),
      });
      const cap = 2.5;
      const capped = await run(device, {
        spec: {
          precision,
          inputLength: K,
          inputStride: K,
          outputStride: rq,
          mode: 'plain',
          segments: productSegments(group, ['q']),
          softCap: cap,
          lastTokenOnly: true,
          ...variant,
        },
        names: ['q'],
        group,
        x,
        ntok,
        y0: new Float32Array(ntok * rq),
      });
      const gateUp = group.values.get('gate_up')!;
      for (let t = 0; t < ntok; t++) {
        const xt = tokenInput(x, t);
        const rows: [string, number, string | undefined][] = [
          ...Array.from({ length: rq }, (_, r): [string, number, undefined] => ['q', r, undefined]),
          ...Array.from({ length: rk }, (_, r): [string, number, string] => ['k', r, 'k.bias']),
          ...Array.from({ length: rv }, (_, r): [string, number, string] => ['v', r, 'v.bias']),
        ];
        rows.forEach(([name, r, bias], column) => {
          const [ref, abs] = referenceDot(group, name, xt, r, K);
          const expected = ref + (bias ? group.values.get(bias)![r] : 0);
          const got = qkv[t * stride + column];
          expect(
            Math.abs(got - expected) / (abs + 1e-30),
            `qkv token ${t} column ${column}`,
          ).toBeLessThan(tol);
        });
        for (let c = rows.length; c < stride; c++) {
          expect(Number.isNaN(qkv[t * stride + c]), `qkv token ${t} column ${c} untouched`).toBe(
            true,
          );
        }
        for (let r = 0; r < ff; r++) {
          let g = 0;
          let ga = 0;
          let u = 0;
          let ua = 0;
          for (let k = 0; k < K; k++) {
            g += gateUp[r * K + k] * xt[k];
            ga += Math.abs(gateUp[r * K + k] * xt[k]);
            u += gateUp[(ff + r) * K + k] * xt[k];
            ua += Math.abs(gateUp[(ff + r) * K + k] * xt[k]);
          }
          const silu = g / (1 + Math.exp(-g));
          const bound = ga * Math.abs(u) + ua * Math.abs(silu) + 1e-30;
          expect(Math.abs(swiglu[t * ff + r] - silu * u) / bound, `swiglu ${t},${r}`).toBeLessThan(
            tol,
          );
        }
      }
      const last = tokenInput(x, ntok - 1);
      for (let r = 0; r < rq; r++) {
        const [ref, abs] = referenceDot(group, 'q', last, r, K);
        // d/dy of cap * tanh(y / cap) is at most 1: the product's error bound carries over.
        expect(
          Math.abs(capped[r] - cap * Math.tanh(ref / cap)) / (abs + 1e-30),
          `capped row ${r}`,
        ).toBeLessThan(tol);
      }
      for (let i = rq; i < ntok * rq; i++) {
        expect(Number.isNaN(capped[i]), `capped value ${i} untouched`).toBe(true);
      }
    },
  );

  it.each([
    ['F16, BF16, Q8_0', [GGMLType.F16, GGMLType.BF16, GGMLType.Q8_0], VARIANTS[1]],
    ['Q4_K, Q6_K', [GGMLType.Q4_K, GGMLType.Q6_K], VARIANTS[2]],
    ['Q8_0, Q6_K', [GGMLType.Q8_0, GGMLType.Q6_K], VARIANTS[8]],
    ['Q4_0, Q5_K', [GGMLType.Q4_0, GGMLType.Q5_K], VARIANTS[11]],
  ] as const)('inputs rounded as llama.cpp does for %s weights', async (_, types, variant) => {
    const rows = 9;
    const tensors = types.map((type, i) => ({ name: `w${i}`, type, dims: [K, rows] }));
    const group = await memoryGroup(tensors, 5);
    const names = types.map((_, i) => `w${i}`);
    const ntok = 3;
    const stride = rows * types.length;
    const x = randomX(ntok, 6);
    const y = await run(device, {
      spec: {
        precision,
        inputLength: K,
        inputStride: K,
        outputStride: stride,
        mode: 'plain',
        segments: productSegments(group, names),
        roundActivations: true,
        ...variant,
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
        const w = group.values.get(`w${i}`)!;
        for (let r = 0; r < rows; r++) {
          const [ref, abs] = referenceDot(group, `w${i}`, xr, r, K);
          const got = y[t * stride + i * rows + r];
          // WGSL division is exact to 2.5 ULP, not correctly rounded: the kernel's 127 / amax
          // can put one input on the other side of a rounding tie, one quantum off.
          let tie = 0;
          for (let k = 0; k < K; k++) {
            tie = Math.max(tie, Math.abs(w[r * K + k]) * inputQuantum(xn, k, type));
          }
          expect(
            Math.abs(got - ref) / (abs * tol + tie + 1e-30),
            `${typeName(type)} token ${t} row ${r}`,
          ).toBeLessThan(1);
        }
      });
    }
  });

  // A decoded token's keys and values must be those a prefill of it writes, so a cached second
  // turn answers as a fresh load: each candidate of these (CPU-backed) adapters against the
  // prefill kernel the graph attaches there. In f32 compute only, what CPU-backed adapters run:
  // in f16 the GEMM multiplies in f32 and the matrix-vector kernels in f16.
  const candidates = precision === 'f32' ? classCandidates('software') : [];
  it.each(
    candidates.map((c) => [`${c.lanesPerRow}/${c.rowsPerThread}/${c.workgroupSize}`, c] as const),
  )(
    "candidate %s (lanes/rows per thread/threads): a token's one-token products equal the adapter's prefill kernel's bit for bit",
    async (_, choice) => {
      const info = device.device.adapterInfo as GPUAdapterInfo & { subgroupMinSize?: number };
      const hasSubgroups = device.device.features.has('subgroups');
      const adapterClass = classifyAdapter(adapterNames(info)).class;
      expect(adapterClass).toBe('software');
      const prefill = defaultPrefillKernels(
        adapterClass,
        sharedInputLanes(hasSubgroups, info.subgroupMinSize),
      );
      const rows = [37, 12];
      const group = await memoryGroup(
        [
          { name: 'b.bias', type: GGMLType.F32, dims: [rows[1]] },
          { name: 'a', type: GGMLType.Q8_0, dims: [K, rows[0]] },
          { name: 'b', type: GGMLType.Q6_K, dims: [K, rows[1]] },
        ],
        21,
      );
      const names = ['a', 'b'];
      const stride = rows[0] + rows[1] + 3;
      const spec: MatmulSpec = {
        precision,
        inputLength: K,
        inputStride: K,
        outputStride: stride,
        mode: 'plain',
        segments: productSegments(group, names),
      };
      const x = randomX(1, 12);
      const y0 = new Float32Array(stride);
      const decoded = await run(device, {
        spec: {
          ...spec,
          tokens: 1,
          ...defaultDecodeVariant(choice, hasSubgroups, info.subgroupMinSize),
        },
        names,
        group,
        x,
        ntok: 1,
        y0,
      });
      const prefilled = await run(device, {
        spec: {
          ...spec,
          tokens: 4,
          lanesPerRow: choice.lanesPerRow,
          subgroups: subgroupLanesFit(choice.lanesPerRow, hasSubgroups, info.subgroupMinSize),
        },
        names,
        group,
        x,
        ntok: 1,
        y0,
        gemm: prefill.gemm ?? undefined,
      });
      expect(decoded.subarray(0, rows[0] + rows[1]).every((v) => Number.isFinite(v))).toBe(true);
      expect(Array.from(decoded)).toEqual(Array.from(prefilled));
    },
  );

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
    const swiglu = await run(device, {
      spec: {
        precision,
        inputLength: K,
        inputStride: K,
        outputStride: ff,
        mode: 'swiglu',
        segments: productSegments(group, ['gate', 'up']),
      },
      names: ['gate', 'up'],
      group,
      x,
      ntok,
      y0: new Float32Array(ntok * ff),
    });
    const y0 = Float32Array.from({ length: ntok * ff }, (_, i) => Math.sin(i));
    const residual = await run(device, {
      spec: {
        precision,
        inputLength: K,
        inputStride: K,
        outputStride: ff,
        mode: 'residual',
        segments: productSegments(group, ['down']),
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
        const [g, ga] = referenceDot(group, 'gate', xt, r, K);
        const [u, ua] = referenceDot(group, 'up', xt, r, K);
        const silu = g / (1 + Math.exp(-g));
        const bound = ga * Math.abs(u) + ua * Math.abs(silu) + 1e-30;
        expect(Math.abs(swiglu[t * ff + r] - silu * u) / bound, `swiglu ${t},${r}`).toBeLessThan(
          tol,
        );
        const [d, da] = referenceDot(group, 'down', xt, r, K);
        const i = t * ff + r;
        expect(
          Math.abs(residual[i] - (y0[i] + d)) / (da + Math.abs(y0[i])),
          `residual ${t},${r}`,
        ).toBeLessThan(tol);
      }
    }
  });
});
