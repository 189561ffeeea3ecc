import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToF16Bits } from '../../src/engine/gguf/half.ts';
import { quantizeQ8_0 } from '../../src/engine/gguf/quantize.ts';
import { seededRandom } from '../fixtures/gguf/blocks.ts';

function block(bytes: Uint8Array, b: number) {
  const view = new DataView(bytes.buffer, bytes.byteOffset + b * 34, 34);
  return {
    d: view.getUint16(0, true),
    qs: Array.from({ length: 32 }, (_, j) => view.getInt8(2 + j)),
  };
}

describe('quantizeQ8_0 (ggml quantize_row_q8_0_ref)', () => {
  it('hand-worked block: d = amax/127 as f16, halves rounded away from zero', () => {
    // amax 127 -> d = 1, id = 1: each value is its own quant, 2.5 -> 3 and -2.5 -> -3 (roundf).
    const values = new Float32Array(32);
    values.set([127, -127, 2.5, -2.5, 0.5, -0.5, 1.49, -1.51, 0]);
    const { d, qs } = block(quantizeQ8_0(values), 0);
    expect(d).toBe(0x3c00);
    expect(qs.slice(0, 9)).toEqual([127, -127, 3, -3, 1, -1, 1, -2, 0]);
  });

  it('an all-zero block has d = 0 and zero quants (id = 0, not infinity)', () => {
    const { d, qs } = block(quantizeQ8_0(new Float32Array(32)), 0);
    expect(d).toBe(0);
    expect(qs.every((q) => q === 0)).toBe(true);
  });

  it('random blocks: f32 arithmetic as in C, checked value by value against an f64 re-derivation', () => {
    const rand = seededRandom(7);
    const values = new Float32Array(32 * 64).map(() => (rand() - 0.5) * 10 ** (rand() * 6 - 3));
    const out = quantizeQ8_0(values);
    expect(out.byteLength).toBe(64 * 34);
    for (let b = 0; b < 64; b++) {
      const { d, qs } = block(out, b);
      const slice = values.subarray(b * 32, b * 32 + 32);
      const amax = Math.max(...Array.from(slice, Math.abs));
      const df = Math.fround(amax / 127);
      expect(d).toBe(f32ToF16Bits(df));
      const id = Math.fround(1 / df);
      slice.forEach((x, j) => {
        const scaled = Math.fround(x * id);
        const expected = Math.sign(scaled) * Math.floor(Math.abs(scaled) + 0.5);
        expect(qs[j]).toBe(expected === 0 ? 0 : expected);
        // Dequantized with the stored f16 scale, each value is within half a step (plus the scale's rounding).
        expect(Math.abs(qs[j] * f16BitsToF32(d) - x)).toBeLessThanOrEqual(
          df * 0.5 + amax * 2 ** -10,
        );
      });
      expect(Math.max(...qs.map(Math.abs))).toBe(127);
    }
  });

  it('refuses a length that is not whole blocks', () => {
    expect(() => quantizeQ8_0(new Float32Array(33))).toThrow(RangeError);
  });
});
