// f64 dequantization of GGUF blocks as stored in the file, written from ggml's
// dequantize_row_* semantics; the independent reference for the engine's kernels.
import { GGMLType, BLOCK_LAYOUT } from '../../../src/engine/gguf/types';
import { bf16BitsToF32, f16BitsToF32, f32ToF16Bits } from '../../../src/engine/gguf/half';

function f16(bytes: Uint8Array, at: number): number {
  return f16BitsToF32(bytes[at] | (bytes[at + 1] << 8));
}

function int8(v: number): number {
  return v > 127 ? v - 256 : v;
}

/** ggml's kvalues_iq4nl: the sixteen levels of IQ4_NL and IQ4_XS. */
const IQ4NL_VALUES = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

function scaleMinK4(j: number, q: Uint8Array, at: number): [number, number] {
  if (j < 4) return [q[at + j] & 63, q[at + j + 4] & 63];
  return [
    (q[at + j + 4] & 0xf) | ((q[at + j - 4] >> 6) << 4),
    (q[at + j + 4] >> 4) | ((q[at + j] >> 6) << 4),
  ];
}

function block(type: GGMLType, b: Uint8Array, o: number, y: Float64Array, yo: number): void {
  switch (type) {
    case GGMLType.Q8_0: {
      const d = f16(b, o);
      for (let j = 0; j < 32; j++) y[yo + j] = d * int8(b[o + 2 + j]);
      return;
    }
    case GGMLType.Q4_0: {
      const d = f16(b, o);
      for (let j = 0; j < 16; j++) {
        y[yo + j] = d * ((b[o + 2 + j] & 0xf) - 8);
        y[yo + j + 16] = d * ((b[o + 2 + j] >> 4) - 8);
      }
      return;
    }
    case GGMLType.Q5_0: {
      const d = f16(b, o);
      const qh = (b[o + 2] | (b[o + 3] << 8) | (b[o + 4] << 16) | (b[o + 5] << 24)) >>> 0;
      for (let j = 0; j < 16; j++) {
        const h0 = ((qh >>> j) << 4) & 0x10;
        const h1 = (qh >>> (j + 12)) & 0x10;
        y[yo + j] = d * (((b[o + 6 + j] & 0xf) | h0) - 16);
        y[yo + j + 16] = d * (((b[o + 6 + j] >> 4) | h1) - 16);
      }
      return;
    }
    case GGMLType.Q4_K: {
      const d = f16(b, o);
      const min = f16(b, o + 2);
      let q = o + 16;
      for (let j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
        const [s1, m1] = scaleMinK4(is, b, o + 4);
        const [s2, m2] = scaleMinK4(is + 1, b, o + 4);
        for (let l = 0; l < 32; l++) y[yo + j + l] = d * s1 * (b[q + l] & 0xf) - min * m1;
        for (let l = 0; l < 32; l++) y[yo + j + 32 + l] = d * s2 * (b[q + l] >> 4) - min * m2;
      }
      return;
    }
    case GGMLType.Q5_K: {
      const d = f16(b, o);
      const min = f16(b, o + 2);
      const qh = o + 16;
      let ql = o + 48;
      let u1 = 1;
      let u2 = 2;
      for (let j = 0, is = 0; j < 256; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
        const [s1, m1] = scaleMinK4(is, b, o + 4);
        const [s2, m2] = scaleMinK4(is + 1, b, o + 4);
        for (let l = 0; l < 32; l++) {
          y[yo + j + l] = d * s1 * ((b[ql + l] & 0xf) + (b[qh + l] & u1 ? 16 : 0)) - min * m1;
          y[yo + j + 32 + l] = d * s2 * ((b[ql + l] >> 4) + (b[qh + l] & u2 ? 16 : 0)) - min * m2;
        }
      }
      return;
    }
    case GGMLType.Q6_K: {
      const d = f16(b, o + 208);
      let ql = o;
      let qh = o + 128;
      let sc = o + 192;
      for (let n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8) {
        for (let l = 0; l < 32; l++) {
          const is = l >> 4;
          const q1 = ((b[ql + l] & 0xf) | (((b[qh + l] >> 0) & 3) << 4)) - 32;
          const q2 = ((b[ql + l + 32] & 0xf) | (((b[qh + l] >> 2) & 3) << 4)) - 32;
          const q3 = ((b[ql + l] >> 4) | (((b[qh + l] >> 4) & 3) << 4)) - 32;
          const q4 = ((b[ql + l + 32] >> 4) | (((b[qh + l] >> 6) & 3) << 4)) - 32;
          y[yo + n + l] = d * int8(b[sc + is]) * q1;
          y[yo + n + l + 32] = d * int8(b[sc + is + 2]) * q2;
          y[yo + n + l + 64] = d * int8(b[sc + is + 4]) * q3;
          y[yo + n + l + 96] = d * int8(b[sc + is + 6]) * q4;
        }
      }
      return;
    }
    case GGMLType.Q4_1: {
      const d = f16(b, o);
      const m = f16(b, o + 2);
      for (let j = 0; j < 16; j++) {
        y[yo + j] = d * (b[o + 4 + j] & 0xf) + m;
        y[yo + j + 16] = d * (b[o + 4 + j] >> 4) + m;
      }
      return;
    }
    case GGMLType.Q5_1: {
      const d = f16(b, o);
      const m = f16(b, o + 2);
      const qh = (b[o + 4] | (b[o + 5] << 8) | (b[o + 6] << 16) | (b[o + 7] << 24)) >>> 0;
      for (let j = 0; j < 16; j++) {
        const h0 = ((qh >>> j) << 4) & 0x10;
        const h1 = (qh >>> (j + 12)) & 0x10;
        y[yo + j] = d * ((b[o + 8 + j] & 0xf) | h0) + m;
        y[yo + j + 16] = d * ((b[o + 8 + j] >> 4) | h1) + m;
      }
      return;
    }
    case GGMLType.Q2_K: {
      const d = f16(b, o + 80);
      const min = f16(b, o + 82);
      let q = o + 16;
      let is = 0;
      let at = yo;
      for (let n = 0; n < 256; n += 128, q += 32) {
        for (let shift = 0; shift < 8; shift += 2) {
          for (const half of [0, 16]) {
            const sc = b[o + is++];
            for (let l = 0; l < 16; l++) {
              y[at++] = d * (sc & 0xf) * ((b[q + half + l] >> shift) & 3) - min * (sc >> 4);
            }
          }
        }
      }
      return;
    }
    case GGMLType.Q3_K: {
      const d = f16(b, o + 108);
      // ggml's aux-word unpacking of the twelve scale bytes into sixteen 6-bit scales.
      const raw = new DataView(b.buffer, b.byteOffset + o + 96, 12);
      const [a0, a1, tmp] = [
        raw.getUint32(0, true),
        raw.getUint32(4, true),
        raw.getUint32(8, true),
      ];
      const aux = new Uint32Array([
        (a0 & 0x0f0f0f0f) | (((tmp >>> 0) & 0x03030303) << 4),
        (a1 & 0x0f0f0f0f) | (((tmp >>> 2) & 0x03030303) << 4),
        ((a0 >>> 4) & 0x0f0f0f0f) | (((tmp >>> 4) & 0x03030303) << 4),
        ((a1 >>> 4) & 0x0f0f0f0f) | (((tmp >>> 6) & 0x03030303) << 4),
      ]);
      const scales = new Int8Array(aux.buffer);
      let q = o + 32;
      let m = 1;
      let is = 0;
      let at = yo;
      for (let n = 0; n < 256; n += 128, q += 32) {
        for (let shift = 0; shift < 8; shift += 2, m <<= 1) {
          for (const half of [0, 16]) {
            const dl = d * (scales[is++] - 32);
            for (let l = 0; l < 16; l++) {
              const high = b[o + half + l] & m ? 0 : 4;
              y[at++] = dl * (((b[q + half + l] >> shift) & 3) - high);
            }
          }
        }
      }
      return;
    }
    case GGMLType.IQ4_NL: {
      const d = f16(b, o);
      for (let j = 0; j < 16; j++) {
        y[yo + j] = d * IQ4NL_VALUES[b[o + 2 + j] & 0xf];
        y[yo + j + 16] = d * IQ4NL_VALUES[b[o + 2 + j] >> 4];
      }
      return;
    }
    case GGMLType.IQ4_XS: {
      const d = f16(b, o);
      const scalesHigh = b[o + 2] | (b[o + 3] << 8);
      for (let ib = 0; ib < 8; ib++) {
        const ls =
          ((b[o + 4 + (ib >> 1)] >> (4 * (ib % 2))) & 0xf) | (((scalesHigh >> (2 * ib)) & 3) << 4);
        const dl = d * (ls - 32);
        const qs = o + 8 + 16 * ib;
        for (let j = 0; j < 16; j++) {
          y[yo + 32 * ib + j] = dl * IQ4NL_VALUES[b[qs + j] & 0xf];
          y[yo + 32 * ib + j + 16] = dl * IQ4NL_VALUES[b[qs + j] >> 4];
        }
      }
      return;
    }
    default:
      throw new Error(`reference dequantization has no block type ${type}`);
  }
}

/** All values of a tensor stored as `type` in `bytes`, in f64. */
export function dequantize(type: GGMLType, bytes: Uint8Array, count: number): Float64Array {
  const y = new Float64Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (type === GGMLType.F32) {
    for (let i = 0; i < count; i++) y[i] = view.getFloat32(i * 4, true);
  } else if (type === GGMLType.F16) {
    for (let i = 0; i < count; i++) y[i] = f16BitsToF32(view.getUint16(i * 2, true));
  } else if (type === GGMLType.BF16) {
    for (let i = 0; i < count; i++) y[i] = bf16BitsToF32(view.getUint16(i * 2, true));
  } else {
    const layout = BLOCK_LAYOUT[type]!;
    for (let i = 0; i < count / layout.values; i++) {
      block(type, bytes, i * layout.bytes, y, i * layout.values);
    }
  }
  return y;
}

/**
 * Random valid file bytes for `count` values of `type`: random quants, f16 scales in a sane range,
 * so dequantized values stay within about [-1, 1].
 */
export function randomTensorBytes(type: GGMLType, count: number, next: () => number): Uint8Array {
  const layout = BLOCK_LAYOUT[type]!;
  const bytes = new Uint8Array((count / layout.values) * layout.bytes);
  const view = new DataView(bytes.buffer);
  if (type === GGMLType.F32) {
    for (let i = 0; i < count; i++) view.setFloat32(i * 4, next() * 2 - 1, true);
    return bytes;
  }
  if (type === GGMLType.F16 || type === GGMLType.BF16) {
    for (let i = 0; i < count; i++) {
      const v = next() * 2 - 1;
      const bits =
        type === GGMLType.F16 ? f32ToF16Bits(v) : new Uint16Array(new Float32Array([v]).buffer)[1];
      view.setUint16(i * 2, bits, true);
    }
    return bytes;
  }
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(next() * 256);
  const half = (at: number, v: number) => view.setUint16(at, f32ToF16Bits(v), true);
  for (let b = 0; b < count / layout.values; b++) {
    const o = b * layout.bytes;
    switch (type) {
      case GGMLType.Q8_0:
        half(o, (0.5 + next()) / 127);
        break;
      case GGMLType.Q4_0:
      case GGMLType.Q5_0:
        half(o, (0.5 + next()) / 16);
        break;
      case GGMLType.Q4_1:
      case GGMLType.Q5_1:
        half(o, (0.5 + next()) / 24);
        half(o + 2, -(0.5 + next()) / 2);
        break;
      case GGMLType.Q2_K:
        half(o + 80, (0.5 + next()) / 40);
        half(o + 82, (0.5 + next()) / 40);
        break;
      case GGMLType.Q3_K:
        half(o + 108, (0.5 + next()) / 120);
        break;
      case GGMLType.IQ4_NL:
        half(o, (0.5 + next()) / 127);
        break;
      case GGMLType.IQ4_XS:
        half(o, (0.5 + next()) / 4000);
        break;
      case GGMLType.Q4_K:
      case GGMLType.Q5_K:
        half(o, (0.5 + next()) / 1000);
        half(o + 2, (0.5 + next()) / 2000);
        break;
      case GGMLType.Q6_K:
        half(o + 208, (0.5 + next()) / 4000);
        break;
      default:
        throw new Error(`no random generator for type ${type}`);
    }
  }
  return bytes;
}

function f32(v: number): number {
  return Math.fround(v);
}

/** Round half to even, as the AVX2 quantizers (and WGSL's round) do. */
function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * A matmul input as llama.cpp's CPU backend hands it to the dot product for `type` weights:
 * f16 / bf16 for those types, Q8_0 blocks for the 32-value quants, Q8_K blocks for K-quants.
 */
export function roundActivations(type: GGMLType, x: Float64Array): Float64Array {
  const out = new Float64Array(x.length);
  if (type === GGMLType.F16) {
    for (let i = 0; i < x.length; i++) out[i] = f16BitsToF32(f32ToF16Bits(x[i]));
    return out;
  }
  if (type === GGMLType.BF16) {
    const u = new Uint32Array(1);
    const f = new Float32Array(u.buffer);
    for (let i = 0; i < x.length; i++) {
      f[0] = x[i];
      u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000;
      out[i] = f[0];
    }
    return out;
  }
  const kquant = [
    GGMLType.Q2_K,
    GGMLType.Q3_K,
    GGMLType.Q4_K,
    GGMLType.Q5_K,
    GGMLType.Q6_K,
    GGMLType.IQ4_XS,
  ].includes(type);
  const block = kquant ? 256 : 32;
  for (let b = 0; b < x.length; b += block) {
    let amax = 0;
    let max = 0;
    for (let j = b; j < b + block; j++) {
      const v = f32(x[j]);
      if (Math.abs(v) > amax) {
        amax = Math.abs(v);
        max = v;
      }
    }
    for (let j = b; j < b + block; j++) {
      const v = f32(x[j]);
      if (kquant) {
        const iscale = amax ? f32(-127 / max) : 0;
        const d = amax ? f32(1 / iscale) : 0;
        out[j] = Math.min(127, roundEven(f32(iscale * v))) * d;
      } else {
        const d = f16BitsToF32(f32ToF16Bits(f32(amax / 127)));
        const id = amax ? f32(127 / amax) : 0;
        out[j] = roundEven(f32(v * id)) * d;
      }
    }
  }
  return out;
}
