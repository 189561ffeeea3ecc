// Q8_0 quantization with ggml's exact rounding (`quantize_row_q8_0_ref`), used to quantize f16/bf16
// weights on load and by the fixtures; it must match llama.cpp byte for byte, so every step is
// done in f32 as the C code does.

import { f32ToF16Bits } from './half.ts';

const QK8_0 = 32;
export const Q8_0_BLOCK_BYTES = 34;

/** C's roundf: halves away from zero. */
function roundf(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

export function quantizeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % QK8_0) {
    throw new RangeError(
      `quantizeQ8_0: ${values.length} values is not a multiple of the ${QK8_0}-value block`,
    );
  }
  const blocks = values.length / QK8_0;
  const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const base = b * QK8_0;
    let amax = 0;
    for (let j = 0; j < QK8_0; j++) amax = Math.max(amax, Math.abs(values[base + j]));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    const at = b * Q8_0_BLOCK_BYTES;
    view.setUint16(at, f32ToF16Bits(d), true);
    for (let j = 0; j < QK8_0; j++)
      view.setInt8(at + 2 + j, roundf(Math.fround(values[base + j] * id)));
  }
  return out;
}
