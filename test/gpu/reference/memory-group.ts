// Builds an in-memory "file" from named tensors and packs it as the engine does, for kernel tests.
import { groupLayout, type GroupLayout } from '../../../src/engine/gguf/layout';
import { packGroupImage } from '../../../src/engine/gguf/weights';
import { GGMLType, type ModelSource, type TensorInfo } from '../../../src/engine/gguf/types';
import { dequantize, randomTensorBytes } from './dequant';
import { random } from '../harness';

export interface TestTensor {
  name: string;
  type: GGMLType;
  dims: number[];
}

export interface MemoryGroup {
  layout: GroupLayout;
  image: Uint8Array;
  /** Dequantized values (f64) of every tensor, row-major. */
  values: Map<string, Float64Array>;
  infos: TensorInfo[];
  source: ModelSource;
}

export function memorySource(bytes: Uint8Array, name = 'memory'): ModelSource {
  return {
    name,
    size: bytes.length,
    read: async (offset, length) => bytes.slice(offset, Math.min(offset + length, bytes.length)),
  };
}

/** With `rowGroups`, laid out as for CPU-backed adapters (Q8_0 rows interleaved per group). */
export async function memoryGroup(
  tensors: TestTensor[],
  seed: number,
  maxBindingBytes = 1 << 30,
  rowGroups = false,
): Promise<MemoryGroup> {
  const next = random(seed);
  const chunks: Uint8Array[] = [];
  const infos: TensorInfo[] = [];
  const values = new Map<string, Float64Array>();
  let offset = 64;
  for (const t of tensors) {
    const count = t.dims.reduce((a, b) => a * b, 1);
    const bytes = randomTensorBytes(t.type, count, next);
    infos.push({ name: t.name, type: t.type, dims: t.dims, offset, bytes: bytes.length });
    values.set(t.name, dequantize(t.type, bytes, count));
    chunks.push(bytes);
    offset += Math.ceil(bytes.length / 32) * 32;
  }
  const file = new Uint8Array(offset);
  infos.forEach((info, i) => file.set(chunks[i], info.offset));
  const source = memorySource(file);
  const layout = groupLayout(infos, maxBindingBytes, rowGroups);
  return { layout, image: await packGroupImage(source, layout), values, infos, source };
}
