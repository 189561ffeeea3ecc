// Fused dequantize + matrix-vector (decode) / matrix-matrix over a few tokens (prefill) kernels.
// One workgroup computes one output row for every token of the pass, NT tokens per read of the
// weight row, so prefill reads the weights ntok / NT times instead of ntok times. Optional fusions:
// several weight tensors in one dispatch (q, k, v), a bias, a residual add, and gate/up + SwiGLU.
// The input arrives normalised (rms-norm.wgsl runs once per token before the products that need it).
import { HOST_STRUCTS_WGSL } from './host-structs';
import type { ComputePrecision } from '../buffer-plan';
import { partedDequant, prelude, weightBindings, type WeightPart } from './dequant';
import { GGMLType } from '../types';

export type BindingKind = 'uniform' | 'read' | 'rw';

export interface KernelSource {
  code: string;
  bindings: BindingKind[];
}

export interface MatmulSegment {
  parts: WeightPart[];
  rows: number;
  /** Column of the output row where this segment's rows start. */
  outColumn: number;
  /** Index in the vector region of this segment's bias. */
  biasIndex?: number;
  /** The segment's first row in its tensor (gate and up halves of one fused `ffn_up`). */
  rowOffset?: number;
}

export interface MatmulSpec {
  precision: ComputePrecision;
  /** Values per input row (the weight row length). */
  inputLength: number;
  /** f32 values between consecutive tokens of the input (a multiple of 4). */
  inputStride: number;
  outputStride: number;
  /**
   * plain: y = W x (+ bias); residual: y += W x; swiglu: y = silu(Wg x) * (Wu x); geglu:
   * y = gelu_tanh(Wg x) * (Wu x).
   */
  mode: 'plain' | 'residual' | 'swiglu' | 'geglu';
  segments: MatmulSegment[];
  /** plain mode: y = cap * tanh(y / cap) (Gemma 2's final logits); 0 or absent: none. */
  softCap?: number;
  /** Only the pass's last token (the output layer needs the last position's logits alone). */
  lastTokenOnly?: boolean;
  /** Threads that share one output row (a power of two dividing the workgroup). */
  lanesPerRow?: number;
  /**
   * Round the input as llama.cpp's CPU backend does before each product (see `activationRounding`),
   * so logits agree with it closely; off computes with the f32 input as is.
   */
  roundActivations?: boolean;
}

/**
 * How llama.cpp's CPU backend converts the input of a matrix product for each weight type: to
 * f16 or bf16 for those weights, to 8-bit blocks of 32 with an f16 scale (Q8_0) for the 32-value
 * quants, to 8-bit blocks of 256 with an f32 scale (Q8_K) for the K-quants.
 */
export type ActivationRounding = 'none' | 'f16' | 'bf16' | 'q8_0' | 'q8_k';

export function activationRounding(type: GGMLType): ActivationRounding {
  switch (type) {
    case GGMLType.F16:
      return 'f16';
    case GGMLType.BF16:
      return 'bf16';
    case GGMLType.Q8_0:
    case GGMLType.Q4_0:
    case GGMLType.Q5_0:
    case GGMLType.IQ4_NL:
      return 'q8_0';
    // llama.cpp rounds these to Q8_1, whose values are Q8_0's; its f16 block sum only enters
    // through the weights' minimum.
    case GGMLType.Q4_1:
    case GGMLType.Q5_1:
      return 'q8_0';
    case GGMLType.Q2_K:
    case GGMLType.Q3_K:
    case GGMLType.Q4_K:
    case GGMLType.Q5_K:
    case GGMLType.Q6_K:
    case GGMLType.IQ4_XS:
      return 'q8_k';
    default:
      return 'none';
  }
}

export const MATMUL_WORKGROUP = 64;
/** Tokens accumulated per read of a weight row. */
export const MATMUL_TOKENS = 4;
export const MAX_WORKGROUPS_X = 65535;
export const DEFAULT_LANES_PER_ROW = 16;

function gated(spec: MatmulSpec): boolean {
  return spec.mode === 'swiglu' || spec.mode === 'geglu';
}

export function matmulRows(spec: MatmulSpec): number {
  return gated(spec) ? spec.segments[0].rows : spec.segments.reduce((a, s) => a + s.rows, 0);
}

export function rowWorkgroups(rows: number): [number, number] {
  return [Math.min(rows, MAX_WORKGROUPS_X), Math.ceil(rows / MAX_WORKGROUPS_X)];
}

export function matmulWorkgroups(spec: MatmulSpec): [number, number] {
  const rowsPerGroup = MATMUL_WORKGROUP / (spec.lanesPerRow ?? DEFAULT_LANES_PER_ROW);
  return rowWorkgroups(Math.ceil(matmulRows(spec) / rowsPerGroup));
}

/**
 * Picks each row's segment. When every segment boundary falls on a workgroup boundary the choice
 * is made from the workgroup's first row, so it is uniform across the workgroup and SIMD-style
 * implementations (SwiftShader) run one segment's code instead of all of them masked.
 */
function segmentSelect(spec: MatmulSpec, rowsPerGroup: number): string {
  let start = 0;
  const starts: number[] = [];
  spec.segments.forEach((s) => {
    starts.push(start);
    start += s.rows;
  });
  const aligned = starts.every((b) => b % rowsPerGroup === 0);
  const by = aligned ? 'group_row' : 'row';
  const lines = aligned ? [`  let group_row = unclamped - tid / LANES;`] : [];
  starts.forEach((b, i) => {
    if (i > 0) lines.push(`  if (${by} >= ${b}u) { seg = ${i}u; }`);
  });
  lines.push(`  r = row - segment_start(seg);`);
  return lines.join('\n');
}

function offset(segment: MatmulSegment): string {
  return segment.rowOffset ? ` + ${segment.rowOffset}u` : '';
}

function ifChain(spec: MatmulSpec, value: (s: MatmulSegment, i: number) => string): string {
  return spec.segments
    .map((s, i) =>
      i === spec.segments.length - 1
        ? `  return ${value(s, i)};`
        : `  if (seg == ${i}u) { return ${value(s, i)}; }`,
    )
    .join('\n');
}

export function matmulKernel(spec: MatmulSpec): KernelSource {
  const K = spec.inputLength;
  if (K % 8 || spec.inputStride % 4) {
    throw new Error(`matmul input length ${K} and stride ${spec.inputStride} must suit vec4 reads`);
  }
  if (gated(spec) && spec.segments.length !== 2) {
    throw new Error('a gated FFN matmul takes exactly two segments: gate and up');
  }
  const bindings: BindingKind[] = ['uniform', 'read', 'read', 'rw'];
  let next = 4;
  const fns: string[] = [];
  spec.segments.forEach((s, i) => {
    fns.push(partedDequant(`deq_s${i}`, 'w', next, s.parts, K));
    next += s.parts.length;
  });
  const weightCount = next - 4;
  for (let i = 0; i < weightCount; i++) bindings.push('read');
  const gatedFfn = gated(spec);
  const deqAny = gatedFfn
    ? ''
    : `fn deq_any(seg: u32, r: u32, g: u32) -> array<vec4<T>, 2> {\n${ifChain(spec, (sg, i) => `deq_s${i}(r${offset(sg)}, g)`)}\n}\n` +
      `fn out_column(seg: u32) -> u32 {\n${ifChain(spec, (s) => `${s.outColumn}u`)}\n}\n` +
      `fn segment_start(seg: u32) -> u32 {\n${ifChain(spec, (_, i) => `${spec.segments.slice(0, i).reduce((a, x) => a + x.rows, 0)}u`)}\n}\n` +
      `fn bias(seg: u32, r: u32) -> f32 {\n${ifChain(spec, (s) =>
        s.biasIndex === undefined ? '0.0' : `vecs[${s.biasIndex}u + r]`,
      )}\n}\n`;
  const [gate, up] = spec.segments;
  const weights = gatedFfn
    ? `let wg = deq_s0(row${offset(gate)}, g);\n        let wu = deq_s1(row${offset(up)}, g);`
    : `let w = deq_any(seg, r, g);`;
  const accumulate = gatedFfn
    ? `acc[t] += f32(dot(wg[0], xa) + dot(wg[1], xb));\n          acc2[t] += f32(dot(wu[0], ua) + dot(wu[1], ub));`
    : `acc[t] += f32(dot(w[0], xa) + dot(w[1], xb));`;
  const cap = spec.softCap ?? 0;
  const store =
    spec.mode === 'swiglu'
      ? `let gate = acc[t];\n        y[o] = gate / (1.0 + exp(-gate)) * acc2[t];`
      : spec.mode === 'geglu'
        ? `y[o] = gelu_tanh(acc[t]) * acc2[t];`
        : spec.mode === 'residual'
          ? `y[o] = y[o] + acc[t];`
          : cap > 0
            ? `y[o] = ${cap} * tanh((acc[t] + bias(seg, r)) / ${cap});`
            : `y[o] = acc[t] + bias(seg, r);`;
  const rounding = spec.segments.map((seg) =>
    spec.roundActivations ? activationRounding(seg.parts[0].type) : 'none',
  );
  const q80 = rounding.includes('q8_0');
  const q8k = rounding.includes('q8_k');
  const roundFn = (mode: ActivationRounding, v: string) => {
    switch (mode) {
      case 'f16':
        return `quantizeToF16(${v})`;
      case 'bf16':
        return `round_bf16(${v})`;
      case 'q8_0':
        return `round_q8_0(${v}, t, g)`;
      case 'q8_k':
        return `round_q8_k(${v}, t, g)`;
      default:
        return v;
    }
  };
  const roundFns = rounding
    .map(
      (mode, i) =>
        `fn round_s${i}(t: u32, g: u32, v: vec4f) -> vec4f {\n  return ${roundFn(mode, 'v')};\n}`,
    )
    .join('\n');
  const roundBody = ifChain(spec, (_, i) => `round_s${i}(t, g, v)`);
  const tokenBody = `let v = input(first + t0 + t, g);
        ${
          gatedFfn
            ? `let xa = vec4<T>(round_s0(t, g, v[0]));
        let xb = vec4<T>(round_s0(t, g, v[1]));
        let ua = vec4<T>(round_s1(t, g, v[0]));
        let ub = vec4<T>(round_s1(t, g, v[1]));`
            : `let xa = vec4<T>(round_input(seg, t, g, v[0]));
        let xb = vec4<T>(round_input(seg, t, g, v[1]));`
        }
        ${accumulate}`;
  // Unrolled with constant vector components: dynamic indexing of acc[t] sends some compilers
  // (SwiftShader's among them) through memory on every step.
  const unrolledTokens = ['x', 'y', 'z', 'w']
    .slice(0, MATMUL_TOKENS)
    .map(
      (c, t) =>
        `if (t0 + ${t}u < ntok) {\n        let t = ${t}u;\n        ${tokenBody.replace(/\[t\]/g, `.${c}`)}\n      }`,
    )
    .join('\n      ');
  const lanes = spec.lanesPerRow ?? DEFAULT_LANES_PER_ROW;
  const rowsPerGroup = MATMUL_WORKGROUP / lanes;
  const code = `${prelude(spec.precision)}
${HOST_STRUCTS_WGSL}@group(0) @binding(0) var<uniform> step: Step;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> vecs: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${weightBindings('w', 4, weightCount)}

const WG = ${MATMUL_WORKGROUP}u;
const LANES = ${lanes}u;
const NT = ${MATMUL_TOKENS}u;
const K = ${K}u;
const GROUPS = ${K / 8}u;
const XS = ${spec.inputStride / 4}u;
const ROWS = ${matmulRows(spec)}u;
var<workgroup> red: array<vec4f, ${MATMUL_WORKGROUP}>;
var<workgroup> red2: array<vec4f, ${MATMUL_WORKGROUP}>;

${fns.join('\n')}
${deqAny}
${q80 ? `var<workgroup> q80_scales: array<vec2f, ${MATMUL_TOKENS * (K / 32)}>;` : ''}
${q8k ? `var<workgroup> q8k_scales: array<vec2f, ${MATMUL_TOKENS * Math.ceil(K / 256)}>;` : ''}

// The tanh approximation of GELU as ggml's CPU backend evaluates it: its cut-offs at +-10 and,
// between them, its f16 table (the f16 result for the f16-rounded input), so Gemma's FFN agrees
// with llama.cpp; the table's rounding is below what f16 compute rounds anyway.
fn gelu_tanh(x: f32) -> f32 {
  if (x <= -10.0) { return 0.0; }
  if (x >= 10.0) { return x; }
  let h = quantizeToF16(x);
  return quantizeToF16(0.5 * h * (1.0 + tanh(0.797884561 * h * (1.0 + 0.044715 * h * h))));
}

fn round_bf16(v: vec4f) -> vec4f {
  let u = bitcast<vec4u>(v);
  return bitcast<vec4f>((u + vec4u(0x7fffu) + ((u >> vec4u(16u)) & vec4u(1u))) & vec4u(0xffff0000u));
}
${
  q80
    ? `fn round_q8_0(v: vec4f, t: u32, g: u32) -> vec4f {
  let s = q80_scales[t * ${K / 32}u + g / 4u];
  return round(v * s.y) * s.x;
}`
    : ''
}
${
  q8k
    ? `fn round_q8_k(v: vec4f, t: u32, g: u32) -> vec4f {
  let s = q8k_scales[t * ${Math.ceil(K / 256)}u + g / 32u];
  return min(round(v * s.y), vec4f(127.0)) * s.x;
}`
    : ''
}
${roundFns}
fn round_input(seg: u32, t: u32, g: u32, v: vec4f) -> vec4f {
${roundBody}
}

// Values g * 8 .. g * 8 + 7 of the token's input.
fn input(token: u32, g: u32) -> array<vec4f, 2> {
  let xi = token * XS + g * 2u;
  return array<vec4f, 2>(x[xi], x[xi + 1u]);
}

// LANES threads share a row and split its blocks; partial sums meet in workgroup memory with two
// barriers, not a tree (barriers are what software rasterizers pay most for).
@compute @workgroup_size(${MATMUL_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) tid: u32) {
  let lane = tid % LANES;
  let unclamped = (wid.x + wid.y * ${MAX_WORKGROUPS_X}u) * ${rowsPerGroup}u + tid / LANES;
  let valid = unclamped < ROWS;
  let row = min(unclamped, ROWS - 1u);
  var seg = 0u;
  var r = row;
${gatedFfn ? '' : segmentSelect(spec, rowsPerGroup)}
  let ntok = ${spec.lastTokenOnly ? '1u' : 'step.ntok'};
  let first = ${spec.lastTokenOnly ? 'step.ntok - 1u' : '0u'};
  for (var t0 = 0u; t0 < ntok; t0 += NT) {
${
  q80 || q8k
    ? `    // Per-block scales of the input, as llama.cpp quantizes it.
    for (var b = tid; b < ${q80 ? K / 32 : Math.ceil(K / 256)}u * NT; b += WG) {
      let t = b % NT;
      if (t0 + t < ntok) {
        ${
          q80
            ? `let blk32 = b / NT;
        var amax = 0.0;
        for (var gg = blk32 * 4u; gg < blk32 * 4u + 4u; gg++) {
          let v = input(first + t0 + t, gg);
          amax = max(amax, max(max(abs(v[0].x), abs(v[0].y)), max(abs(v[0].z), abs(v[0].w))));
          amax = max(amax, max(max(abs(v[1].x), abs(v[1].y)), max(abs(v[1].z), abs(v[1].w))));
        }
        q80_scales[t * ${K / 32}u + blk32] = vec2f(quantizeToF16(amax / 127.0), select(0.0, 127.0 / amax, amax != 0.0));`
            : ''
        }
        ${
          q8k
            ? `let blk256 = b / NT;
        if (blk256 < ${Math.ceil(K / 256)}u) {
          var amax = 0.0;
          var signed_max = 0.0;
          for (var gg = blk256 * 32u; gg < min(blk256 * 32u + 32u, GROUPS); gg++) {
            let v = input(first + t0 + t, gg);
            for (var h = 0u; h < 2u; h++) {
              for (var c = 0u; c < 4u; c++) {
                if (abs(v[h][c]) > amax) {
                  amax = abs(v[h][c]);
                  signed_max = v[h][c];
                }
              }
            }
          }
          let iscale = select(0.0, -127.0 / signed_max, amax != 0.0);
          q8k_scales[t * ${Math.ceil(K / 256)}u + blk256] = vec2f(select(0.0, 1.0 / iscale, amax != 0.0), iscale);
        }`
            : ''
        }
      }
    }
    workgroupBarrier();`
    : ''
}
    var acc = vec4f(0.0);
    var acc2 = vec4f(0.0);
    for (var g = lane; g < GROUPS; g += LANES) {
      ${weights}
      ${unrolledTokens}
    }
    ${
      lanes > 1
        ? `red[tid] = acc;
    red2[tid] = acc2;
    workgroupBarrier();
    if (lane == 0u) {
      for (var k = 1u; k < LANES; k++) {
        acc += red[tid + k];
        acc2 += red2[tid + k];
      }
    }
    workgroupBarrier();`
        : ''
    }
    if (lane == 0u && valid) {
      for (var t = 0u; t < NT && t0 + t < ntok; t++) {
        let o = (t0 + t) * ${spec.outputStride}u + ${gatedFfn ? 'row' : 'out_column(seg) + r'};
        ${store}
      }
    }
  }
}
`;
  return { code, bindings };
}
