// Fused dequantize + matrix-vector (decode) / matrix-matrix over a few tokens (prefill) kernels.
// One workgroup computes one output row for every token of the pass, NT tokens per read of the
// weight row, so prefill reads the weights ntok / NT times instead of ntok times. Optional fusions:
// an RMSNorm of the input (recomputed per workgroup: the input is tiny next to a weight row),
// several weight tensors in one dispatch (q, k, v), a bias, a residual add, and gate/up + SwiGLU.
import type { ComputePrecision } from '../buffer-plan';
import { partedDequant, prelude, weightBindings, type WeightPart } from './dequant';

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
}

export interface MatmulSpec {
  precision: ComputePrecision;
  /** Values per input row (the weight row length). */
  inputLength: number;
  /** f32 values between consecutive tokens of the input (a multiple of 4). */
  inputStride: number;
  outputStride: number;
  /** plain: y = W x (+ bias); residual: y += W x; swiglu: y = silu(Wg x) * (Wu x). */
  mode: 'plain' | 'residual' | 'swiglu';
  segments: MatmulSegment[];
  /** Index in the vector region of an RMSNorm weight applied to the input first. */
  normIndex?: number;
  eps?: number;
  /** Only the pass's last token (the output layer needs the last position's logits alone). */
  lastTokenOnly?: boolean;
  /** Threads that share one output row (a power of two dividing the workgroup). */
  lanesPerRow?: number;
}

export const MATMUL_WORKGROUP = 64;
/** Tokens accumulated per read of a weight row. */
export const MATMUL_TOKENS = 4;
export const MAX_WORKGROUPS_X = 65535;
export const DEFAULT_LANES_PER_ROW = 16;

export function matmulRows(spec: MatmulSpec): number {
  return spec.mode === 'swiglu'
    ? spec.segments[0].rows
    : spec.segments.reduce((a, s) => a + s.rows, 0);
}

export function rowWorkgroups(rows: number): [number, number] {
  return [Math.min(rows, MAX_WORKGROUPS_X), Math.ceil(rows / MAX_WORKGROUPS_X)];
}

export function matmulWorkgroups(spec: MatmulSpec): [number, number] {
  const rowsPerGroup = MATMUL_WORKGROUP / (spec.lanesPerRow ?? DEFAULT_LANES_PER_ROW);
  return rowWorkgroups(Math.ceil(matmulRows(spec) / rowsPerGroup));
}

function segmentSelect(spec: MatmulSpec): string {
  let start = 0;
  const lines: string[] = [];
  spec.segments.forEach((s, i) => {
    if (i > 0) lines.push(`  if (row >= ${start}u) { seg = ${i}u; r = row - ${start}u; }`);
    start += s.rows;
  });
  return lines.join('\n');
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
  if (spec.mode === 'swiglu' && spec.segments.length !== 2) {
    throw new Error('a SwiGLU matmul takes exactly two segments: gate and up');
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
  const swiglu = spec.mode === 'swiglu';
  const norm = spec.normIndex !== undefined;
  const deqAny = swiglu
    ? ''
    : `fn deq_any(seg: u32, r: u32, g: u32) -> array<vec4<T>, 2> {\n${ifChain(spec, (_, i) => `deq_s${i}(r, g)`)}\n}\n` +
      `fn out_column(seg: u32) -> u32 {\n${ifChain(spec, (s) => `${s.outColumn}u`)}\n}\n` +
      `fn bias(seg: u32, r: u32) -> f32 {\n${ifChain(spec, (s) =>
        s.biasIndex === undefined ? '0.0' : `vecs[${s.biasIndex}u + r]`,
      )}\n}\n`;
  const weights = swiglu
    ? `let wg = deq_s0(row, g);\n        let wu = deq_s1(row, g);`
    : `let w = deq_any(seg, r, g);`;
  const accumulate = swiglu
    ? `acc[t] += f32(dot(wg[0], xa) + dot(wg[1], xb));\n          acc2[t] += f32(dot(wu[0], xa) + dot(wu[1], xb));`
    : `acc[t] += f32(dot(w[0], xa) + dot(w[1], xb));`;
  const store =
    spec.mode === 'swiglu'
      ? `let gate = acc[t];\n        y[o] = gate / (1.0 + exp(-gate)) * acc2[t];`
      : spec.mode === 'residual'
        ? `y[o] = y[o] + acc[t];`
        : `y[o] = acc[t] + bias(seg, r);`;
  const lanes = spec.lanesPerRow ?? DEFAULT_LANES_PER_ROW;
  const rowsPerGroup = MATMUL_WORKGROUP / lanes;
  const normIndex = spec.normIndex ?? 0;
  const code = `${prelude(spec.precision)}
struct Step { ntok: u32, pos0: u32, unused0: u32, unused1: u32 }
@group(0) @binding(0) var<uniform> step: Step;
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
fn norm_weights(g: u32) -> array<vec4f, 2> {
  let i = ${normIndex}u + g * 8u;
  return array<vec4f, 2>(
    vec4f(vecs[i], vecs[i + 1u], vecs[i + 2u], vecs[i + 3u]),
    vec4f(vecs[i + 4u], vecs[i + 5u], vecs[i + 6u], vecs[i + 7u]),
  );
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
${swiglu ? '' : segmentSelect(spec)}
  let ntok = ${spec.lastTokenOnly ? '1u' : 'step.ntok'};
  let first = ${spec.lastTokenOnly ? 'step.ntok - 1u' : '0u'};
  for (var t0 = 0u; t0 < ntok; t0 += NT) {
    var scale = vec4f(1.0);
    ${
      norm
        ? `var ss = vec4f(0.0);
    for (var i = tid; i < K / 4u; i += WG) {
      for (var t = 0u; t < NT && t0 + t < ntok; t++) {
        let v = x[(first + t0 + t) * XS + i];
        ss[t] += dot(v, v);
      }
    }
    red[tid] = ss;
    workgroupBarrier();
    var total = vec4f(0.0);
    for (var i = 0u; i < WG; i++) {
      total += red[i];
    }
    scale = inverseSqrt(total / f32(K) + ${spec.eps ?? 1e-6});
    workgroupBarrier();`
        : ''
    }
    var acc = vec4f(0.0);
    var acc2 = vec4f(0.0);
    for (var g = lane; g < GROUPS; g += LANES) {
      ${weights}
      ${norm ? 'let nw = norm_weights(g);' : ''}
      for (var t = 0u; t < NT && t0 + t < ntok; t++) {
        let xi = (first + t0 + t) * XS + g * 2u;
        let xa = vec4<T>(x[xi]${norm ? ' * nw[0] * scale[t]' : ''});
        let xb = vec4<T>(x[xi + 1u]${norm ? ' * nw[1] * scale[t]' : ''});
        ${accumulate}
      }
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
        let o = (t0 + t) * ${spec.outputStride}u + ${swiglu ? 'row' : 'out_column(seg) + r'};
        ${store}
      }
    }
  }
}
`;
  return { code, bindings };
}
