// What the forward pass's builders share (graph.ts, graph-products.ts): the dispatch record, the
// inputs a graph is built over, and the helpers naming a group's tensors as product segments and
// buffer slices.
import type { ComputePrecision, EngineBufferPlan } from './buffer-plan';
import type { GroupLayout, PackedMatrix } from './layout';
import type { DecodeShape, DecodeVariant, MatmulSegment, SharedInputLanes } from './kernels/matmul';
import { weightParts } from './kernels/dequant';
import type { PassWorkgroup } from './kernels/pass-workgroup';
import type { PrefillKernels } from './prefill-kernels';
import type { BufferSlice, Kernel, PipelineCache } from './kernels/pipeline';
import type { LayerPlacement } from './residency';
import type { ModelHparams } from './types';

export interface Dispatch {
  kernel: Kernel;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
  /** Dispatched once per token of the pass along y (rope, norm-add). */
  perToken?: boolean;
  /** The grid for a pass of `ntok` tokens from position `pos0`, when it depends on them. */
  grid?: (ntok: number, pos0: number) => [number, number, number];
  /**
   * What runs instead in passes of more than one token (a GEMM, prompts' attention, the quantize
   * pass where a one-token pass's reduce writes 8-bit inputs); null: nothing (the decode
   * attention's reduce where prompts' attention writes its output itself).
   */
  prefill?: Dispatch | null;
  /** Weight bytes this dispatch reads (for decode accounting). */
  weightBytes: number;
  label: string;
  /**
   * What runs instead when a pass carries one token (a product's one-token kernel); null: nothing
   * (the rope pass where the decode attention does its work).
   */
  decode?: Dispatch | null;
}

/** What the graph is built over: the loaded model's layouts, buffers and options. */
export interface GraphInputs {
  device: GPUDevice;
  cache: PipelineCache;
  hparams: ModelHparams;
  plan: EngineBufferPlan;
  /** KV cache capacity in tokens. */
  contextTokens: number;
  placement: LayerPlacement;
  computePrecision: ComputePrecision;
  lanesPerRow?: number;
  /** The layers' one-token kernel (see `defaultDecodeVariant`); absent: its defaults. */
  decodeShape?: DecodeShape;
  /** The one-token matrix-vector variant, forced; absent: `defaultDecodeVariant` for the device. */
  decodeVariant?: DecodeVariant;
  roundActivations: boolean;
  /**
   * Products over the weight types that take them read their input quantized to 8 bits by a pass
   * before them (quantize-input.ts); needs the unstaged GEMM or none for passes of several tokens.
   */
  q8Inputs: boolean;
  /**
   * One-token 8-bit-input products of one lane and one row per thread read each input block once
   * per subgroup, over this many lanes (`sharedInput` in matmul.ts); undefined: they do not.
   */
  sharedInputs?: SharedInputLanes;
  /** The kernels attached for passes of several tokens (see `Dispatch.prefill`). */
  prefill: PrefillKernels;
  /** Threads per workgroup of the RMSNorm, RoPE and attention reduce passes (`passWorkgroup`). */
  passWorkgroup: PassWorkgroup;
  layers: GroupLayout[];
  head: GroupLayout;
  embedding: GroupLayout;
  /** A resident layer's buffer, or the slot a streamed layer runs from. */
  layerBuffer(layer: number): GPUBuffer;
  headBuffer?: GPUBuffer;
  embeddingBuffer?: GPUBuffer;
  /** Scratch, activation and KV buffers of the plan, by name. */
  scratch: ReadonlyMap<string, GPUBuffer>;
}

/** The workgroup grid of `d` in a pass of `ntok` tokens from position `pos0`. */
/** What runs of `d` in a pass of one token (null: nothing). */
export function oneTokenDispatch(d: Dispatch): Dispatch | null {
  return d.decode === undefined ? d : d.decode;
}

export function dispatchGrid(d: Dispatch, ntok: number, pos0: number): [number, number, number] {
  if (d.grid) return d.grid(ntok, pos0);
  return [d.workgroups[0], d.perToken ? ntok : d.workgroups[1], d.workgroups[2]];
}

export function matrixBytes(m: PackedMatrix): number {
  return m.parts.reduce((a, p) => a + p.bytes, 0);
}

/** The output layer: `output.weight`, or the token embedding when the model ties them. */
export function outputMatrix(head: GroupLayout, embedding: GroupLayout): PackedMatrix {
  return head.matrices.get('output.weight') ?? embedding.matrices.get('token_embd.weight')!;
}

/**
 * Gate and up as two segments over one fused `ffn_up` (gate the first half of its rows), each
 * binding the whole tensor and reading its own half through a row offset.
 */
export function fusedGateUp(group: GroupLayout, name: string, ff: number): MatmulSegment[] {
  const [whole] = segments(group, [name], false);
  return [
    { ...whole, rows: ff, outColumn: 0 },
    { ...whole, rows: ff, outColumn: 0, rowOffset: ff },
  ];
}

export function segments(group: GroupLayout, names: string[], biases: boolean): MatmulSegment[] {
  let column = 0;
  return names.map((name) => {
    const m = group.matrices.get(name);
    if (!m) throw new Error(`tensor ${name} is missing from the model`);
    const bias = biases ? group.vectors.get(name.replace(/\.weight$/, '.bias')) : undefined;
    const segment = {
      parts: weightParts(m),
      rows: m.rows,
      outColumn: column,
      biasIndex: bias?.index,
    };
    column += m.rows;
    return segment;
  });
}

export function weightSlices(
  buffer: GPUBuffer,
  group: GroupLayout,
  names: string[],
): BufferSlice[] {
  return names.flatMap((n) =>
    group.matrices.get(n)!.parts.map((p) => ({ buffer, offset: p.offset, size: p.bytes })),
  );
}

/** A dispatch of `kernel` over `slices` with `workgroups` along x, once per token along y. */
export function fixedDispatch(
  g: GraphInputs,
  kernel: Kernel,
  slices: BufferSlice[],
  workgroups: number,
  label: string,
): Dispatch {
  return {
    kernel,
    bindGroup: g.cache.bindGroup(kernel, slices, label),
    workgroups: [workgroups, 1, 1],
    perToken: true,
    weightBytes: 0,
    label,
  };
}

/** The plan's scratch, activation or KV buffer `name`, whole. */
export function scratchSlice(g: GraphInputs, name: string): BufferSlice {
  return { buffer: g.scratch.get(name)! };
}
