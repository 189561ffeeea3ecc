// Parses every WGSL kernel variant the GGUF engine generates (each weight type, compute precision,
// matmul mode and fused option, every fixed kernel with and without its options) with a WGSL
// parser, so a kernel that no longer parses fails `npm run check` before any GPU test runs; and
// checks through WGSL reflection that each kernel's bind group layout (read from its declarations
// or listed by hand) is the one it declares, and that the host structs' byte offsets are the ones
// the host writes.
//   node --import ./src/cli/register.mjs test/setup/check-wgsl.ts
import { WgslParser, WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { SAMPLING, STEP, type HostStruct } from '../../src/engine/gguf/kernels/host-structs.ts';
import { attentionSplit, type ComputePrecision } from '../../src/engine/gguf/buffer-plan.ts';
import { embedKernel } from '../../src/engine/gguf/kernels/embed.ts';
import { attentionKernels } from '../../src/engine/gguf/kernels/attention.ts';
import { sampleStages } from '../../src/engine/gguf/kernels/sample.ts';
import { normAddKernel, ropeKernel, topLogitsKernel } from '../../src/engine/gguf/kernels/fixed.ts';
import {
  CPU_GEMM_TILES,
  DEFAULT_GEMM_TILES,
  SHARED_WEIGHT_TILES,
  gemmKernel,
  type GemmTiles,
} from '../../src/engine/gguf/kernels/gemm.ts';
import {
  attentionTiles,
  prefillAttentionKernel,
  queryAttentionKernel,
  subgroupAttentionKernel,
  subgroupDecodeAttentionKernel,
} from '../../src/engine/gguf/kernels/prefill-attention.ts';
import { rmsNormKernel } from '../../src/engine/gguf/kernels/rms-norm.ts';
import { Q8_0_ROW_GROUP } from '../../src/engine/gguf/repack.ts';
import { quantizeInputKernel } from '../../src/engine/gguf/kernels/quantize-input.ts';
import { q8InputTypes } from '../../src/engine/gguf/kernels/dequant.ts';
import {
  encoderAttentionKernel,
  geluKernel,
  layerNormKernel,
} from '../../src/engine/gguf/kernels/encoder.ts';
import {
  defaultDecodeVariant,
  matmulKernel,
  subgroupLanesFit,
  type MatmulSpec,
} from '../../src/engine/gguf/kernels/matmul.ts';
import { ALL_VARIANT_CHOICES } from '../../src/engine/gguf/variant-choice.ts';
import type { BindingKind, KernelVariant } from '../../src/engine/gguf/kernels/pipeline.ts';
import {
  ENGINE_TYPES,
  GGMLType,
  typeName,
  type ModelHparams,
} from '../../src/engine/gguf/types.ts';

/** The weight types besides Q8_0 whose products read 8-bit inputs. */
const Q8_BLOCK_TYPES = new Set<number>(q8InputTypes().filter((t) => t !== GGMLType.Q8_0));
const K = 512;
const hparams: ModelHparams = {
  architecture: 'gemma3',
  name: 'wgsl check',
  blockCount: 2,
  embeddingLength: K,
  feedForwardLength: 1024,
  headCount: 8,
  headCountKv: 2,
  keyLength: 64,
  valueLength: 64,
  contextLength: 256,
  vocabSize: 1000,
  rmsEpsilon: 1e-6,
  ropeTheta: 1e6,
  ropeDims: 64,
  ropePairing: 'neox',
  ropeScaling: { type: 'none', factor: 1 },
  ropeAttnFactor: 1,
  tiedEmbeddings: true,
  slidingWindow: 16,
  slidingPeriod: 2,
  ropeThetaLocal: 10000,
  attentionSoftCap: 50,
  finalSoftCap: 30,
};

/** The GEMM's tiles read straight from the buffers: per thread, and shared over 4 or 8 lanes. */
const UNSTAGED_TILES: GemmTiles[] = [
  CPU_GEMM_TILES,
  SHARED_WEIGHT_TILES[4],
  SHARED_WEIGHT_TILES[8],
];

function tilesLabel(tiles: GemmTiles): string {
  if (tiles.staged) return 'staged';
  return tiles.sharedWeights ? `weights shared over ${tiles.sharedWeights} lanes` : 'unstaged';
}

/** The matrix-vector variants: decode on CPU-backed and on real GPUs, and passes of several tokens. */
const MATVEC_VARIANTS: Partial<MatmulSpec>[] = [
  { tokens: 1, lanesPerRow: 1 },
  { tokens: 1, lanesPerRow: 8, workgroupSize: 128, subgroups: true, rowsPerThread: 4 },
  { tokens: 1, lanesPerRow: 4, workgroupSize: 64, rowsPerThread: 2 },
  { tokens: 1, lanesPerRow: 1, workgroupSize: 16, rowsPerThread: 4 },
  { tokens: 4, lanesPerRow: 16, workgroupSize: 64 },
];

/**
 * What the load-time autotune can choose: each lanes-per-row candidate with the one-token kernel
 * it implies (for products and the output layer) and the kernel for several tokens, on adapters
 * without subgroups and with subgroups of 4, 8 and 32.
 */
function tunedVariants(): Partial<MatmulSpec>[] {
  const unique = new Map<string, Partial<MatmulSpec>>();
  const subgroupSizes: [boolean, number | undefined][] = [
    [false, undefined],
    [true, 4],
    [true, 8],
    [true, 32],
  ];
  for (const choice of ALL_VARIANT_CHOICES) {
    const { lanesPerRow } = choice;
    for (const [has, min] of subgroupSizes) {
      for (const variant of [
        { tokens: 1 as const, ...defaultDecodeVariant(choice, has, min) },
        { tokens: 1 as const, ...defaultDecodeVariant(choice, has, min, true) },
        { tokens: 4 as const, lanesPerRow, subgroups: subgroupLanesFit(lanesPerRow, has, min) },
      ]) {
        unique.set(JSON.stringify(variant), variant);
      }
    }
  }
  return [...unique.values()];
}

function variants(): [string, KernelVariant][] {
  const out: [string, KernelVariant][] = [];
  const precisions: ComputePrecision[] = ['f32', 'f16'];
  const part = (type: GGMLType, rows: number) => [
    { type, rowStart: 0, rows: rows - 3 },
    { type, rowStart: rows - 3, rows: 3 },
  ];
  for (const precision of precisions) {
    for (const type of ENGINE_TYPES) {
      const name = `${typeName(type)} ${precision}`;
      const segment = (rows: number, outColumn: number, biasIndex?: number) => ({
        parts: part(type, rows),
        rows,
        outColumn,
        biasIndex,
      });
      const base = { precision, inputLength: K, inputStride: K };
      const specs: [string, MatmulSpec][] = [
        [
          'plain, bias, rounded',
          {
            ...base,
            outputStride: 96,
            mode: 'plain',
            segments: [segment(64, 0), segment(32, 64, 0)],
            roundActivations: true,
          },
        ],
        ['residual', { ...base, outputStride: K, mode: 'residual', segments: [segment(K, 0)] }],
        [
          'soft-capped output',
          {
            ...base,
            outputStride: 1000,
            mode: 'plain',
            segments: [segment(1000, 0)],
            softCap: 30,
            lastTokenOnly: true,
          },
        ],
        ...(['swiglu', 'geglu'] as const).map((mode): [string, MatmulSpec] => [
          mode,
          { ...base, outputStride: 1024, mode, segments: [segment(1024, 0), segment(1024, 0)] },
        ]),
      ];
      for (const [label, spec] of specs) {
        for (const variant of MATVEC_VARIANTS) {
          out.push([
            `matmul ${name} ${label} ${JSON.stringify(variant)}`,
            matmulKernel({ ...spec, ...variant }),
          ]);
        }
      }
      if (type === GGMLType.Q8_0) {
        // 8-bit inputs (quantize-input.ts): every product form, matrix-vector (the one-token body
        // sharing each input load across a subgroup among them) and unstaged GEMM.
        for (const [label, spec] of specs) {
          for (const variant of MATVEC_VARIANTS) {
            out.push([
              `matmul ${name} ${label}, 8-bit inputs ${JSON.stringify(variant)}`,
              matmulKernel({ ...spec, ...variant, q8Input: true }),
            ]);
          }
          for (const sharedInput of [4, 8] as const) {
            const shared = { tokens: 1, lanesPerRow: 1, rowsPerThread: 1, sharedInput } as const;
            out.push([
              `matmul ${name} ${label}, 8-bit inputs shared over ${sharedInput} lanes`,
              matmulKernel({ ...spec, ...shared, q8Input: true }),
            ]);
          }
          // Rows interleaved per group (CPU-backed layout), read with f32 and with 8-bit inputs.
          const grouped = {
            ...spec,
            segments: spec.segments.map((s) => ({
              ...s,
              parts: s.parts.map((p) => ({ ...p, rowGroup: Q8_0_ROW_GROUP })),
            })),
          };
          out.push([
            `matmul ${name} ${label}, rows in groups`,
            matmulKernel({ ...grouped, tokens: 4, lanesPerRow: 1 }),
          ]);
          out.push([
            `matmul ${name} ${label}, rows in groups, 8-bit inputs shared over 8 lanes`,
            matmulKernel({
              ...grouped,
              tokens: 1,
              lanesPerRow: 1,
              rowsPerThread: 1,
              sharedInput: 8,
              q8Input: true,
            }),
          ]);
          if (!spec.lastTokenOnly) {
            for (const tiles of UNSTAGED_TILES) {
              out.push([
                `gemm ${name} ${label}, 8-bit inputs ${tilesLabel(tiles)}`,
                gemmKernel({ ...spec, q8Input: true }, tiles),
              ]);
            }
          }
        }
      }
      if (Q8_BLOCK_TYPES.has(type)) {
        // 8-bit inputs over the other types that take them (Q8_0 or Q8_K inputs): the one-token
        // bodies (shared input among them), the 4-token body and the unstaged GEMM.
        for (const [label, spec] of specs) {
          const forms: [string, Partial<MatmulSpec>][] = [
            ['one-token', { tokens: 1, lanesPerRow: 1, rowsPerThread: 1 }],
            ...([4, 8] as const).map((sharedInput): [string, Partial<MatmulSpec>] => [
              `shared over ${sharedInput} lanes`,
              { tokens: 1, lanesPerRow: 1, rowsPerThread: 1, sharedInput },
            ]),
            ['4-token', { tokens: 4, lanesPerRow: 1 }],
          ];
          for (const [form, variant] of forms) {
            out.push([
              `matmul ${name} ${label}, 8-bit inputs, ${form}`,
              matmulKernel({ ...spec, ...variant, q8Input: true }),
            ]);
          }
          if (!spec.lastTokenOnly) {
            for (const tiles of UNSTAGED_TILES) {
              out.push([
                `gemm ${name} ${label}, 8-bit inputs ${tilesLabel(tiles)}`,
                gemmKernel({ ...spec, q8Input: true }, tiles),
              ]);
            }
          }
        }
      }
      if (type === GGMLType.Q4_K) {
        for (const variant of tunedVariants()) {
          const [label, spec] = specs[0];
          out.push([
            `matmul ${name} ${label}, tuned ${JSON.stringify(variant)}`,
            matmulKernel({ ...spec, ...variant }),
          ]);
        }
      }
      const qkv: MatmulSpec = {
        ...base,
        outputStride: 160,
        mode: 'plain',
        segments: [segment(64, 0), segment(32, 64, 0), segment(64, 96, 32)],
      };
      for (const [label, spec] of [['q, k, v with biases', qkv], ...specs.slice(1)] as const) {
        if (spec.lastTokenOnly) continue;
        for (const tiles of [DEFAULT_GEMM_TILES, ...UNSTAGED_TILES]) {
          out.push([`gemm ${name} ${label} ${tilesLabel(tiles)}`, gemmKernel(spec, tiles)]);
        }
      }
      out.push([`embed ${name}`, embedKernel(precision, part(type, 1000), K, 1000, Math.sqrt(K))]);
      out.push([`embed ${name} unscaled`, embedKernel(precision, part(type, 1000), K, 1000)]);
    }
  }
  out.push(
    ['rope', ropeKernel(hparams, {})],
    ['rope with q/k norm', ropeKernel(hparams, { qNormIndex: 0, kNormIndex: 64 })],
    ['rope skipped', ropeKernel(hparams, { noRope: true })],
    ['rope, pairs adjacent', ropeKernel({ ...hparams, ropePairing: 'adjacent' }, {})],
    [
      'rope with q/k norm, 8 threads per head',
      ropeKernel(hparams, { qNormIndex: 0, kNormIndex: 64, workgroup: 8 }),
    ],
    ['attention split', attentionKernels(hparams, 256).split],
    ['attention reduce', attentionKernels(hparams, 256).reduce],
    ['attention reduce into 8-bit inputs', attentionKernels(hparams, 256).reduceQ8!],
    [
      'attention reduce into 8-bit inputs, 8 threads',
      attentionKernels(hparams, 256, 0, 8).reduceQ8!,
    ],
    ['attention split with a window', attentionKernels(hparams, 4096, 16).split],
    ['attention reduce with a window', attentionKernels(hparams, 4096, 16).reduce],
    ['prefill attention', prefillAttentionKernel(hparams, 0, attentionTiles(hparams))],
    [
      'prefill attention with a window, 4 x 8 tiles',
      prefillAttentionKernel(hparams, 16, { queries: 4, positions: 8 }),
    ],
    ['per-query attention', queryAttentionKernel(hparams, 0)],
    ['subgroup attention over 8 lanes', subgroupAttentionKernel(hparams, 0, 8)],
    ['subgroup attention over 4 lanes with a window', subgroupAttentionKernel(hparams, 16, 4)],
    [
      'per-query attention in splits, with a window',
      queryAttentionKernel(hparams, 16, attentionSplit(4096)),
    ],
    [
      'subgroup decode attention over 8 lanes',
      subgroupDecodeAttentionKernel(hparams, 0, attentionSplit(4096), 8)!,
    ],
    [
      'subgroup decode attention over 4 lanes with a window',
      subgroupDecodeAttentionKernel(hparams, 16, attentionSplit(4096), 4)!,
    ],
    [
      'subgroup decode attention over 8 lanes with NEOX RoPE',
      subgroupDecodeAttentionKernel(hparams, 0, attentionSplit(4096), 8, {
        pairs: hparams.keyLength / 2,
        neox: true,
      })!,
    ],
    [
      'subgroup decode attention over 4 lanes with adjacent RoPE and a window',
      subgroupDecodeAttentionKernel(hparams, 16, attentionSplit(4096), 4, {
        pairs: hparams.keyLength / 2,
        neox: false,
      })!,
    ],
    ['norm-add', normAddKernel(hparams, 0)],
    ['quantize-input', quantizeInputKernel({ length: K, stride: K })],
    ['quantize-input, Q8_K', quantizeInputKernel({ length: K, stride: K, format: 'q8_k' })],
    [
      'quantize-input of the last token, Q8_K',
      quantizeInputKernel({ length: K, stride: K, lastToken: true, format: 'q8_k' }),
    ],
    [
      'quantize-input of the last token',
      quantizeInputKernel({ length: K, stride: K, lastToken: true }),
    ],
    ['rms-norm', rmsNormKernel({ length: K, normIndex: 0, eps: 1e-6 })],
    [
      'rms-norm of the last token',
      rmsNormKernel({ length: K, normIndex: 0, eps: 1e-6, lastToken: true }),
    ],
    [
      'rms-norm into 8-bit inputs',
      rmsNormKernel({ length: K, normIndex: 0, eps: 1e-6, quantize: true }),
    ],
    [
      'rms-norm of the last token into 8-bit inputs',
      rmsNormKernel({ length: K, normIndex: 0, eps: 1e-6, lastToken: true, quantize: true }),
    ],
    [
      'rms-norm into 8-bit inputs, 8 threads per token',
      rmsNormKernel({ length: K, normIndex: 0, eps: 1e-6, quantize: true, workgroup: 8 }),
    ],
    ...sampleStages(5000).map((s, i): [string, KernelVariant] => [`sample stage ${i}`, s.variant]),
    ...sampleStages(5000, true).map((s, i): [string, KernelVariant] => [
      `greedy sample stage ${i}`,
      s.variant,
    ]),
    ['top-logits', topLogitsKernel(1000)],
    ...(['none', 'token', 'position'] as const).map((extra): [string, KernelVariant] => [
      `layer-norm adding ${extra}`,
      layerNormKernel(hparams, 0, K, extra),
    ]),
    ['gelu', geluKernel(hparams)],
    ['encoder attention', encoderAttentionKernel(hparams, 512, false)],
    ['encoder attention with RoPE', encoderAttentionKernel(hparams, 512, true)],
  );
  return out;
}

/** The buffer bindings of group 0 as WGSL reflection reads them. */
function reflectedBindings(code: string): BindingKind[] {
  const kinds: BindingKind[] = [];
  const reflect = new WgslReflect(code);
  for (const v of [...reflect.uniforms, ...reflect.storage]) {
    if (v.group !== 0) throw new Error(`binds group ${v.group}`);
    kinds[v.binding] = reflect.uniforms.includes(v)
      ? 'uniform'
      : v.access === 'read_write'
        ? 'rw'
        : 'read';
  }
  return kinds;
}

const failures: string[] = [];
const all = variants();
for (const [label, kernel] of all) {
  try {
    new WgslParser().parse(kernel.code);
    const declared = reflectedBindings(kernel.code).join(',');
    if (declared !== kernel.bindings.join(',')) {
      failures.push(`${label}: binds [${kernel.bindings}] but declares [${declared}]`);
    }
  } catch (error) {
    failures.push(`${label}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
const reflected = new WgslReflect(sampleStages(1000)[0].variant.code);
for (const struct of [STEP, SAMPLING] as HostStruct<string>[]) {
  const info = reflected.structs.find((s) => s.name === struct.name);
  if (!info) {
    failures.push(`struct ${struct.name} is not declared in the kernels`);
    continue;
  }
  for (const member of info.members) {
    if (struct.offset[member.name] !== member.offset) {
      failures.push(
        `${struct.name}.${member.name} is at byte ${member.offset} in WGSL, ${struct.offset[member.name]} on the host`,
      );
    }
  }
}
if (failures.length) {
  console.error(`${failures.length} of ${all.length} WGSL kernel variants fail:`);
  for (const failure of failures) console.error(`  ${failure}`);
  process.exit(1);
}
console.log(`${all.length} WGSL kernel variants parse and bind as they declare.`);
