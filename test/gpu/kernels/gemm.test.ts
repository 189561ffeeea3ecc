// The prefill matrix-matrix kernel against an f64 reference, on random weights of every type and
// random inputs, output buffers poisoned first, for token and row counts that are not multiples
// of the tile sizes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDevice, random } from '../harness';
import { referenceDot, runProduct } from './product-run';
import { ENGINE_TYPES, GGMLType, typeName } from '../../../src/engine/gguf/types';
import type { MatmulSegment, MatmulSpec } from '../../../src/engine/gguf/kernels/matmul';
import {
  CPU_GEMM_TILES,
  DEFAULT_GEMM_TILES,
  SHARED_WEIGHT_TILES,
  gemmKernel,
  type GemmTiles,
} from '../../../src/engine/gguf/kernels/gemm';
import { sharedInputLanes, type SharedInputLanes } from '../../../src/engine/gguf/kernels/matmul';
import { PipelineCache } from '../../../src/engine/gguf/kernels/pipeline';
import { weightParts } from '../../../src/engine/gguf/kernels/dequant';
import type { ComputePrecision } from '../../../src/engine/gguf/buffer-plan';
import type { EngineDevice } from '../../../src/gpu/device';
import { roundToF16 } from '../../../src/engine/gguf/half';
import { memoryGroup, type MemoryGroup } from '../reference/memory-group';

/**
 * Error relative to the sum of |w x| over the row. f32: rounding of a few-hundred-term f32 dot
 * product. f16 compute stages weights and inputs in f16 (unit roundoff 4.9e-4) and accumulates
 * in f32: two roundings per term bound it by about 1e-3; stated with margin as 2e-3.
 */
const TOLERANCE: Record<ComputePrecision, number> = { f32: 1e-4, f16: 2e-3 };
const TOKEN_COUNTS = [1, 7, 33, 100];

function segment(group: MemoryGroup, name: string, outColumn: number): MatmulSegment {
  const m = group.layout.matrices.get(name)!;
  return {
    parts: weightParts(m),
    rows: m.rows,
    outColumn,
    biasIndex: group.layout.vectors.get(`${name}.bias`)?.index,
  };
}

/** The worst error over many values, asserted once (an assertion per value costs seconds). */
class Worst {
  error = 0;
  where = 'nowhere';
  see(error: number, where: string): void {
    // NaN (a poisoned value left in place) counts as worst and stays.
    if (!Number.isNaN(this.error) && !(error <= this.error)) {
      this.error = error;
      this.where = where;
    }
  }
  expectBelow(tolerance: number, label: string): void {
    expect(this.error, `${label}: worst at ${this.where}`).toBeLessThan(tolerance);
  }
}

function randomX(length: number, seed: number): Float32Array {
  const next = random(seed);
  return Float32Array.from({ length }, () => next() * 4 - 2);
}

/** ggml's GELU (tanh form, through its f16 table), in f64. */
function geluTanh(v: number): number {
  if (v <= -10) return 0;
  if (v >= 10) return v;
  const h = roundToF16(v);
  return roundToF16(0.5 * h * (1 + Math.tanh(0.797884561 * h * (1 + 0.044715 * h * h))));
}

/** The lanes each adapter's subgroups hold (SwiftShader's 4, lavapipe's 8) and fewer. */
const SHARED_LANES: Record<'swiftshader' | 'lavapipe', SharedInputLanes[]> = {
  swiftshader: [4],
  lavapipe: [4, 8],
};

const configs: ['swiftshader' | 'lavapipe', ComputePrecision][] = [
  ['swiftshader', 'f32'],
  ['lavapipe', 'f32'],
  ['lavapipe', 'f16'],
];

describe.each(configs)('prefill GEMM on %s, %s compute', (adapter, precision) => {
  const tol = TOLERANCE[precision];
  let ed: EngineDevice;
  let cache: PipelineCache;
  beforeAll(async () => {
    ed = await openTestDevice(adapter, { disableF16: precision === 'f32' });
    cache = new PipelineCache(ed.device);
  });
  afterAll(() => ed.device.destroy());

  /**
   * q, k and v segments of three weight types (v split across two bindings, k and v with
   * biases), run over each token count through the one pipeline.
   */
  async function checkSegments(types: GGMLType[], tiles: GemmTiles, k = 512) {
    const names = ['q', 'k', 'v'] as const;
    const rows = { q: 37, k: 12, v: 29 };
    const tensors = [
      { name: 'k.bias', type: GGMLType.F32, dims: [rows.k] },
      { name: 'v.bias', type: GGMLType.F32, dims: [rows.v] },
      ...names.map((name, i) => ({ name, type: types[i], dims: [k, rows[name]] })),
    ];
    const seed = types[0] * 7 + k;
    const probe = await memoryGroup(tensors, seed);
    const cap = probe.layout.matrices.get('v')!.rowBytes * 20;
    const group = await memoryGroup(tensors, seed, cap);
    expect(group.layout.matrices.get('v')!.parts.length).toBe(2);
    const stride = rows.q + rows.k + rows.v + 5;
    const spec: MatmulSpec = {
      precision,
      inputLength: k,
      inputStride: k,
      outputStride: stride,
      mode: 'plain',
      segments: [
        segment(group, 'q', 0),
        segment(group, 'k', rows.q),
        segment(group, 'v', rows.q + rows.k),
      ],
    };
    for (const ntok of TOKEN_COUNTS) {
      const x = randomX(ntok * k, ntok + seed);
      const y = await runProduct(ed.device, cache, {
        spec,
        group,
        bound: [...names],
        input: x,
        ntok,
        outLength: ntok * stride,
        gemm: tiles,
      });
      const worst = new Worst();
      let untouched = true;
      for (let t = 0; t < ntok; t++) {
        const xt = x.subarray(t * k, (t + 1) * k);
        let column = 0;
        for (const name of names) {
          const bias = group.values.get(`${name}.bias`);
          for (let r = 0; r < rows[name]; r++) {
            const [ref, abs] = referenceDot(group, name, xt, r, k);
            const expected = ref + (bias ? bias[r] : 0);
            const got = y[t * stride + column + r];
            worst.see(Math.abs(got - expected) / (abs + 1e-30), `${name} token ${t} row ${r}`);
          }
          column += rows[name];
        }
        for (let c = column; c < stride; c++) untouched &&= Number.isNaN(y[t * stride + c]);
      }
      worst.expectBelow(tol, `${ntok} tokens`);
      expect(untouched, 'columns past the rows keep their poison').toBe(true);
    }
  }

  const types = [...ENGINE_TYPES];
  const triples = [3, 6, 9, 12].map((i) => types.slice(i, i + 3));
  const staging: [string, GemmTiles][] = [
    ['staged in workgroup memory', DEFAULT_GEMM_TILES],
    ['read straight from the buffers', CPU_GEMM_TILES],
    ...SHARED_LANES[adapter].map((lanes): [string, GemmTiles] => [
      `weights shared over ${lanes} lanes`,
      SHARED_WEIGHT_TILES[lanes],
    ]),
  ];

  it('the widest shared form is the one the engine picks on this adapter', () => {
    const info = ed.adapterInfo as GPUAdapterInfo & { subgroupMinSize?: number };
    const lanes = SHARED_LANES[adapter];
    expect(sharedInputLanes(ed.device.features.has('subgroups'), info.subgroupMinSize)).toBe(
      lanes[lanes.length - 1],
    );
  });
  it.each(
    staging.flatMap(([how, tiles]) =>
      triples.map((t) => [t.map(typeName).join(', '), how, t, tiles] as const),
    ),
  )(
    'q, k and v of %s with biases, a split tensor, over 1, 7, 33 and 100 tokens, %s',
    async (_, _how, triple, tiles) => {
      await checkSegments(triple, tiles);
    },
  );

  it.each(staging)(
    'an input length that is not a multiple of the tile depth (264 values), %s',
    async (_, tiles) => {
      await checkSegments([GGMLType.F16, GGMLType.F32, GGMLType.BF16], tiles, 264);
    },
  );

  it('refuses weights shared over a subgroup in tiles of other shapes', () => {
    const spec: MatmulSpec = {
      precision,
      inputLength: 64,
      inputStride: 64,
      outputStride: 8,
      mode: 'plain',
      segments: [{ parts: [], rows: 8, outColumn: 0 }],
    };
    const shared = SHARED_WEIGHT_TILES[8];
    const refusal = /weights shared over 8 lanes take unstaged tiles of 16n rows and 32 tokens/;
    expect(() => gemmKernel(spec, { ...shared, staged: true })).toThrow(refusal);
    expect(() => gemmKernel(spec, { ...shared, rows: 24 })).toThrow(refusal);
    expect(() => gemmKernel(spec, { ...shared, tokens: 16 })).toThrow(refusal);
  });

  it.each([
    ['staged', true],
    ['unstaged', false],
  ] as const)(
    'other tile sizes: 16 tokens x 32 rows x 16 values over Q4_K, Q2_K and Q6_K (staged: two groups per scale pair), %s',
    async (_, staged) => {
      await checkSegments([GGMLType.Q4_K, GGMLType.Q2_K, GGMLType.Q6_K], {
        tokens: 16,
        rows: 32,
        k: 16,
        staged,
      });
    },
  );

  it('weights shared over 4 lanes in tiles of 16 rows, over Q8_0, Q5_K and F16', async () => {
    await checkSegments([GGMLType.Q8_0, GGMLType.Q5_K, GGMLType.F16], {
      ...SHARED_WEIGHT_TILES[4],
      rows: 16,
    });
  });

  it.each(staging)(
    'SwiGLU and GeGLU over a fused gate/up tensor, and the residual add, 7 and 100 tokens, %s',
    async (_, tiles) => {
      for (const ntok of [7, 100]) {
        const k = 512;
        const ff = 45;
        const group = await memoryGroup(
          [
            { name: 'gate_up', type: GGMLType.Q6_K, dims: [k, 2 * ff] },
            { name: 'down', type: GGMLType.Q4_0, dims: [k, ff] },
          ],
          ntok,
        );
        const x = randomX(ntok * k, 3 + ntok);
        const whole = segment(group, 'gate_up', 0);
        const gatedSpec = (mode: 'swiglu' | 'geglu'): MatmulSpec => ({
          precision,
          inputLength: k,
          inputStride: k,
          outputStride: ff + 3,
          mode,
          segments: [
            { ...whole, rows: ff },
            { ...whole, rows: ff, rowOffset: ff },
          ],
        });
        const gatedRun = (mode: 'swiglu' | 'geglu') =>
          runProduct(ed.device, cache, {
            spec: gatedSpec(mode),
            group,
            bound: ['gate_up', 'gate_up'],
            input: x,
            ntok,
            outLength: ntok * (ff + 3),
            gemm: tiles,
          });
        const swiglu = await gatedRun('swiglu');
        const geglu = await gatedRun('geglu');
        const y0 = Float32Array.from({ length: ntok * ff }, (_, i) => Math.sin(i));
        const residual = await runProduct(ed.device, cache, {
          spec: {
            precision,
            inputLength: k,
            inputStride: k,
            outputStride: ff,
            mode: 'residual',
            segments: [segment(group, 'down', 0)],
          },
          group,
          bound: ['down'],
          input: x,
          ntok,
          y0,
          outLength: ntok * ff,
          gemm: tiles,
        });
        const worst = { swiglu: new Worst(), geglu: new Worst(), residual: new Worst() };
        let untouched = true;
        for (let t = 0; t < ntok; t++) {
          const xt = x.subarray(t * k, (t + 1) * k);
          for (let r = 0; r < ff; r++) {
            const [g, ga] = referenceDot(group, 'gate_up', xt, r, k);
            const [u, ua] = referenceDot(group, 'gate_up', xt, ff + r, k);
            const silu = g / (1 + Math.exp(-g));
            // d silu / dg <= 1.1, so an error e in g moves silu by at most 1.1 e.
            const bound = 1.1 * ga * Math.abs(u) + ua * Math.abs(silu) + 1e-30;
            const o = t * (ff + 3) + r;
            worst.swiglu.see(Math.abs(swiglu[o] - silu * u) / bound, `token ${t} row ${r}`);
            // GeGLU goes through ggml's f16 GELU table: a gate that moves across an f16 rounding
            // boundary moves the GELU by one f16 step (2^-10 relative) besides the product's error.
            const gelu = geluTanh(g);
            const step = Math.abs(gelu) * 2 ** -10 * Math.abs(u);
            const gegluBound = 1.2 * ga * Math.abs(u) + ua * Math.abs(gelu) + 1e-30;
            worst.geglu.see(
              (Math.abs(geglu[o] - gelu * u) - step) / gegluBound,
              `token ${t} row ${r}`,
            );
            const [d, da] = referenceDot(group, 'down', xt, r, k);
            const i = t * ff + r;
            worst.residual.see(
              Math.abs(residual[i] - (y0[i] + d)) / (da + Math.abs(y0[i])),
              `token ${t} row ${r}`,
            );
          }
          for (let c = ff; c < ff + 3; c++) {
            untouched &&= Number.isNaN(swiglu[t * (ff + 3) + c]);
            untouched &&= Number.isNaN(geglu[t * (ff + 3) + c]);
          }
        }
        for (const [mode, w] of Object.entries(worst))
          w.expectBelow(tol, `${mode}, ${ntok} tokens`);
        expect(untouched, 'columns past the rows keep their poison').toBe(true);
      }
    },
  );
});
