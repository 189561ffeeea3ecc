// A loaded model on one GPU: its buffers, the submission of passes and the readback of results.
// Weights: one buffer per transformer layer, one for the head (output norm, rope factors, output
// layer) and one for the token embedding, each laid out by `groupLayout`. Scratch and KV buffers
// come from `engineBufferPlan`. The dispatches of a pass come from `buildGraph` once at load, so a
// decode token is one compute pass and one queue submission. Sampling passes rotate through a
// small ring of logits and readback buffers, so several can be in flight at once.
import { defaultPrefillKernels, type PrefillKernels } from './prefill-kernels';
import { passWorkgroup } from './kernels/pass-workgroup';
import {
  engineBufferPlan,
  HISTORY_RING,
  RESULT_WORDS,
  SAMPLED_RING,
  type ComputePrecision,
  type EngineBufferPlan,
} from './buffer-plan';
import { groupLayout, headTensors, layerTensors, type GroupLayout } from './layout';
import { ropeTable } from './kernels/fixed';
import { packStruct, STEP } from './kernels/host-structs';
import { PipelineCache } from './kernels/pipeline';
import type { DecodeVariant } from './kernels/matmul';
import { GpuAllocator, type AllocationCategory } from './allocator';
import { buildGraph, buildLayer, type Graph } from './graph';
import {
  dispatchGrid,
  oneTokenDispatch,
  outputMatrix,
  type Dispatch,
  type GraphInputs,
} from './graph-parts';
import { DEFAULT_LANES_PER_ROW, sharedInputLanes, type SharedInputLanes } from './kernels/matmul';
import { classifyAdapter, deviceSubgroups, type AdapterClass } from '../../gpu/probe';
import { waitForPass } from '../../gpu/pass-wait';
import {
  adapterNames,
  chooseVariants,
  lanesOnlyChoice,
  type ChosenVariants,
  type VariantChoice,
  type VariantTuning,
} from './variant-choice';
import {
  checkPlacement,
  fullPlacement,
  LayerStream,
  streamedLayers,
  type LayerPlacement,
} from './residency';
import { packGroupImage, uploadGroup } from './weights';
import { vectorToF32 } from './repack';
import type { ModelHeader, ModelHparams, ModelSource, TensorInfo } from './types';

export interface ModelLoadOptions {
  contextTokens: number;
  computePrecision: ComputePrecision;
  prefillChunk?: number;
  /** Cap on one storage binding (tests force row splitting with a small one). */
  maxBindingBytes?: number;
  /** Threads per output row in the matmul kernels, forced (tests, `--lanes`); else `tuning`. */
  lanesPerRow?: number;
  /** The kernel variants, forced (tests); else `lanesPerRow` or `tuning`. */
  variantChoice?: VariantChoice;
  /** The kernel variants to time at load and where the choice is remembered (variant-choice.ts). */
  tuning?: VariantTuning;
  /** The kernels of passes of more than one token (default by the adapter's class). */
  prefill?: PrefillKernels;
  /** The one-token matmul variant (default: `defaultDecodeVariant` for the device). */
  decodeVariant?: DecodeVariant;
  /** Round matmul inputs as llama.cpp's CPU backend does (default off; see `activationRounding`). */
  roundActivations?: boolean;
  /**
   * 8-bit inputs for the products over the weight types that take them (Q8_0, Q5_0 and Q4_0
   * against Q8_0 inputs, Q3_K to Q6_K against Q8_K; quantize-input.ts); default on CPU-backed
   * adapters, whose prefill GEMM reads straight from the buffers, off on GPUs.
   */
  q8Inputs?: boolean;
  /**
   * Whether the device's WGSL has `dot4I8Packed` and `pack4xI8` (the language feature
   * `packed_4x8_integer_dot_product`); without, no 8-bit inputs. Default yes.
   */
  integerDotProduct?: boolean;
  /** Layers this device runs and how many stay resident; default all, all resident. */
  placement?: LayerPlacement;
  /** Compiled kernels of this device to reuse (reloading with another plan); default new. */
  pipelines?: PipelineCache;
  /** Counts every buffer of this device; default a new one. */
  allocator?: GpuAllocator;
  signal?: AbortSignal;
  onProgress?: (loaded: number, total: number) => void;
}

/** Which ring slot a sampling pass uses and what it runs after the output layer. */
export interface SampledPassOptions {
  slot: number;
  topLogits: boolean;
  /** Greedy passes run only the sampler's argmax dispatches. */
  greedy: boolean;
}

/** A submitted sampling pass, whose result words `readSampled` waits for. */
export interface SampledPass {
  counters: PassCounters;
  slot: number;
}

/** Token ids to place in the sampler's history ring, the first at index `start`. */
export interface HistoryWrite {
  start: number;
  ids: Uint32Array;
}

export interface PassCounters {
  dispatches: number;
  weightBytes: number;
  submissions: number;
  /** Bytes of streamed layers uploaded during the pass. */
  uploadBytes: number;
}

/** Buffers of the plan, by name. */
type Scratch = Map<string, GPUBuffer>;

export class GgufModel {
  readonly layers: GroupLayout[];
  readonly head: GroupLayout;
  readonly embedding: GroupLayout;
  private graph: Graph = { layers: [] };
  private embeddingWeights?: GPUBuffer;
  private headWeights?: GPUBuffer;
  private readonly layerWeights = new Map<number, GPUBuffer>();
  /** Streamed layers and their slots; null when every layer of the placement is resident. */
  stream: LayerStream | null = null;
  readonly placement: LayerPlacement;
  readonly allocator: GpuAllocator;
  readonly scratch: Scratch = new Map();
  readonly plan: EngineBufferPlan;
  readonly cache: PipelineCache;
  /** The kernel variants this part runs and how they were chosen. */
  variants: ChosenVariants = { choice: lanesOnlyChoice(DEFAULT_LANES_PER_ROW), source: 'default' };
  /** Position of the first token of the pass being recorded (the last one written). */
  private position = 0;
  private nextSlot = 0;
  private lastReadSlot = 0;
  /** The pending mapping of each readback slot. */
  private readonly mapping: Promise<void>[] = [];

  private constructor(
    readonly device: GPUDevice,
    readonly header: ModelHeader,
    readonly options: ModelLoadOptions,
    readonly maxBindingBytes: number,
  ) {
    const tensors = header.tensors;
    const h = header.hparams;
    // Q8_0 rows interleaved per group where products read 8-bit inputs one row per lane.
    const rowGroups = this.q8Inputs;
    this.layers = Array.from({ length: h.blockCount }, (_, i) =>
      groupLayout(layerTensors(tensors, i), maxBindingBytes, rowGroups),
    );
    this.head = groupLayout(headTensors(tensors), maxBindingBytes, rowGroups);
    this.embedding = groupLayout(
      tensors.filter((t) => t.name === 'token_embd.weight'),
      maxBindingBytes,
      rowGroups,
    );
    this.plan = engineBufferPlan(h, {
      contextTokens: options.contextTokens,
      computePrecision: options.computePrecision,
      prefillChunk: options.prefillChunk,
    });
    this.cache = options.pipelines ?? new PipelineCache(device);
    this.placement = options.placement ?? fullPlacement(h.blockCount);
    checkPlacement(this.placement, h.blockCount);
    this.allocator = options.allocator ?? new GpuAllocator(device, 'device 0');
  }

  get hparams(): ModelHparams {
    return this.header.hparams;
  }

  get prefillChunk(): number {
    return this.plan.prefillChunk;
  }

  static async load(
    device: GPUDevice,
    source: ModelSource,
    header: ModelHeader,
    options: ModelLoadOptions,
  ): Promise<GgufModel> {
    const cap = Math.min(
      options.maxBindingBytes ?? Infinity,
      device.limits.maxStorageBufferBindingSize,
    );
    const model = new GgufModel(device, header, options, Math.floor(cap / 4) * 4);
    try {
      await model.upload(source);
      model.variants = await model.chooseVariants();
      await model.build();
    } catch (error) {
      model.destroy();
      throw error;
    }
    return model;
  }

  private createBuffer(
    category: AllocationCategory,
    label: string,
    size: number,
    usage: number,
  ): GPUBuffer {
    return this.allocator.create(category, label, size, usage);
  }

  private get tied(): boolean {
    return !this.head.matrices.has('output.weight');
  }

  private async upload(source: ModelSource): Promise<void> {
    const p = this.placement;
    const streamed = new Set(streamedLayers(p));
    const needsEmbedding = p.holdsEmbedding || (p.holdsOutput && this.tied);
    const groups: [string, GroupLayout, (b: GPUBuffer) => void][] = [];
    if (needsEmbedding) {
      groups.push(['token_embd', this.embedding, (b) => (this.embeddingWeights = b)]);
    }
    for (let i = p.first; i <= p.last; i++) {
      groups.push([`blk.${i}`, this.layers[i], (b) => this.layerWeights.set(i, b)]);
    }
    if (p.holdsOutput) groups.push(['head', this.head, (b) => (this.headWeights = b)]);
    const total = groups.reduce((a, g) => a + g[1].bytes, 0);
    let loaded = 0;
    const onBytes = (n: number) => {
      loaded += n;
      this.options.onProgress?.(loaded, total);
    };
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    const images: Uint8Array[] = [];
    for (const [label, group, keep] of groups) {
      const layer = label.startsWith('blk.') ? Number(label.slice(4)) : -1;
      if (streamed.has(layer)) {
        images.push(await packGroupImage(source, group, this.options.signal));
        onBytes(group.bytes);
        continue;
      }
      const buffer = this.createBuffer('weights', label, group.bytes, usage);
      keep(buffer);
      await uploadGroup(this.device, buffer, source, group, {
        signal: this.options.signal,
        onBytes,
      });
    }
    if (streamed.size) {
      this.stream = new LayerStream(this.device, this.allocator, [...streamed], images);
    }
    for (const b of this.plan.buffers) {
      if (b.layer !== undefined && (b.layer < p.first || b.layer > p.last)) continue;
      const use =
        b.usage === 'uniform'
          ? GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST
          : b.usage === 'readback'
            ? GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST
            : GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
      this.scratch.set(b.name, this.createBuffer(b.category, b.name, b.bytes, use));
    }
    const freqs = await this.ropeFactors(source);
    const table = ropeTable(this.hparams, this.options.contextTokens, freqs);
    this.device.queue.writeBuffer(this.scratch.get('rope')!, 0, table);
    const local = this.scratch.get('rope.local');
    if (local) {
      const localTable = ropeTable(this.hparams, this.options.contextTokens, freqs, true);
      this.device.queue.writeBuffer(local, 0, localTable);
    }
  }

  private async ropeFactors(source: ModelSource): Promise<Float32Array | undefined> {
    const info = this.header.tensors.find(
      (t) => t.name === ropeFactorsTensor(this.header, this.options.contextTokens),
    );
    if (!info) return undefined;
    const bytes = await source.read(info.offset, info.bytes, this.options.signal);
    return vectorToF32(info, bytes);
  }

  /** A resident layer's buffer, or the slot a streamed layer runs from. */
  private layerBuffer(i: number): GPUBuffer {
    return this.layerWeights.get(i) ?? this.stream!.slotOf(i);
  }

  private async chooseVariants(): Promise<ChosenVariants> {
    if (this.options.variantChoice) return { choice: this.options.variantChoice, source: 'forced' };
    const forced = this.options.lanesPerRow;
    if (forced !== undefined) return { choice: lanesOnlyChoice(forced), source: 'forced' };
    if (!this.options.tuning) return this.variants;
    return chooseVariants(this.options.tuning, (choice) => this.timeFirstLayer(choice));
  }

  /**
   * Milliseconds of a few one-token passes of this part's first layer run with `choice`'s
   * kernels, in one submission (KV position 0 is written, and overwritten by the first prompt).
   */
  private async timeFirstLayer(choice: VariantChoice): Promise<number> {
    const dispatches = await buildLayer(this.graphInputs(choice), this.placement.first);
    this.writeInputs([0], 0);
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    for (let repeat = 0; repeat < 4; repeat++) {
      for (const d of dispatches.map(oneTokenDispatch)) {
        if (!d) continue;
        pass.setPipeline(d.kernel.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(...dispatchGrid(d, 1, 0));
      }
    }
    pass.end();
    const start = performance.now();
    this.device.queue.submit([encoder.finish()]);
    await this.device.queue.onSubmittedWorkDone();
    return performance.now() - start;
  }

  private async build(): Promise<void> {
    this.graph = await buildGraph(this.graphInputs(this.variants.choice));
  }

  private graphInputs(choice: VariantChoice): GraphInputs {
    return {
      device: this.device,
      cache: this.cache,
      hparams: this.hparams,
      plan: this.plan,
      contextTokens: this.options.contextTokens,
      placement: this.placement,
      computePrecision: this.options.computePrecision,
      lanesPerRow: choice.lanesPerRow,
      decodeShape: { rowsPerThread: choice.rowsPerThread, workgroupSize: choice.workgroupSize },
      decodeVariant: this.options.decodeVariant,
      roundActivations: this.options.roundActivations ?? false,
      q8Inputs: this.q8Inputs,
      sharedInputs: this.sharedInputs,
      prefill: this.prefillKernels,
      passWorkgroup: passWorkgroup(this.adapterClass),
      layers: this.layers,
      head: this.head,
      embedding: this.embedding,
      layerBuffer: (i) => this.layerBuffer(i),
      headBuffer: this.headWeights,
      embeddingBuffer: this.embeddingWeights,
      scratch: this.scratch,
    };
  }

  /** The class of the adapter the device came from (its kernels' defaults follow it). */
  private get adapterClass(): AdapterClass {
    return classifyAdapter(adapterNames(this.device.adapterInfo)).class;
  }

  /** The kernels of passes of several tokens: as forced, else by the adapter and its subgroups. */
  get prefillKernels(): PrefillKernels {
    if (this.options.prefill) return this.options.prefill;
    const subgroups = deviceSubgroups(this.device);
    return defaultPrefillKernels(
      this.adapterClass,
      sharedInputLanes(subgroups.enabled, subgroups.min),
    );
  }

  /**
   * Whether products over the weight types that take them read 8-bit inputs: as forced, else on
   * CPU-backed adapters whose WGSL has integer dot products (decode 1.4x, prefill 1.5x on
   * lavapipe, docs/performance.md). The staged GEMM has no 8-bit form.
   */
  get q8Inputs(): boolean {
    const prefill = this.prefillKernels;
    const dot = this.options.integerDotProduct ?? true;
    const q8 =
      this.options.q8Inputs ?? (dot && this.adapterClass === 'software' && !prefill.gemm?.staged);
    if (q8 && prefill.gemm?.staged) {
      throw new Error(
        '8-bit inputs need the unstaged GEMM or the matrix-vector kernels for prefill',
      );
    }
    if (q8 && !dot) {
      throw new Error(
        "8-bit inputs need WGSL's packed_4x8_integer_dot_product, which this device's WebGPU lacks",
      );
    }
    return q8;
  }

  /**
   * The lanes one-token 8-bit-input products share each input load over: wherever there are
   * 8-bit inputs and subgroups of at least 4 invocations (lavapipe's products 1.2-1.6x faster,
   * docs/performance.md); undefined where they do not.
   */
  get sharedInputs(): SharedInputLanes | undefined {
    if (!this.q8Inputs) return undefined;
    const subgroups = deviceSubgroups(this.device);
    return sharedInputLanes(subgroups.enabled, subgroups.min);
  }

  /** Logit rows of the output layer (the vocabulary the sampler draws from). */
  get outputRows(): number {
    return outputMatrix(this.head, this.embedding).rows;
  }

  /**
   * Submits one pass over `ntok` tokens at the position last written: the embedding (first
   * device), this device's layers, and with `sampled` (last device) the output layer for the last
   * token into that ring slot's logits, the sampler and, when asked, the top-logits kernel;
   * `finish` records into the last submission's encoder. With every layer resident that is one
   * submission. Streamed layers take one submission each, and the next streamed layer's upload is
   * queued before the current one's compute is submitted, so the host copies it while the GPU runs
   * the layers before it.
   */
  submitPass(
    ntok: number,
    sampled: SampledPassOptions | null,
    finish?: (encoder: GPUCommandEncoder) => void,
  ): PassCounters {
    const counters: PassCounters = {
      dispatches: 0,
      weightBytes: 0,
      submissions: 0,
      uploadBytes: 0,
    };
    const p = this.placement;
    const stream = this.stream;
    const streamed = stream?.count ?? 0;
    const pos0 = this.position;
    const segment = (from: number, to: number, isFirst: boolean, isLast: boolean) => {
      const encoder = this.device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      const run = (d: Dispatch, [wx, wy, wz]: readonly number[]) => {
        pass.setPipeline(d.kernel.pipeline);
        pass.setBindGroup(0, d.bindGroup);
        pass.dispatchWorkgroups(wx, wy, wz);
        counters.dispatches++;
        counters.weightBytes += d.weightBytes * (d.label === 'embed' ? ntok : 1);
      };
      const graph = this.graph;
      // A one-token pass runs each product's one-token kernel where it has one; longer passes
      // the tiled prefill kernels where the graph has them (null: the dispatch is skipped).
      const body = (d: Dispatch): Dispatch | null => {
        if (ntok === 1) return oneTokenDispatch(d);
        return d.prefill !== undefined ? d.prefill : d;
      };
      if (isFirst && graph.embed) run(graph.embed, [ntok, 1, 1]);
      for (let layer = from; layer <= to; layer++) {
        for (const d of graph.layers[layer - p.first].map(body)) {
          if (d) run(d, dispatchGrid(d, ntok, pos0));
        }
      }
      const head = sampled && graph.heads?.[sampled.slot];
      if (isLast && sampled && head) {
        if (head.outputNorm) run(head.outputNorm, [1, 1, 1]);
        if (head.outputInput) run(head.outputInput, head.outputInput.workgroups);
        run(head.output, head.output.workgroups);
        for (const d of sampled.greedy ? head.greedySample : head.sample) run(d, d.workgroups);
        if (sampled.topLogits) run(head.topLogits, head.topLogits.workgroups);
      }
      pass.end();
      if (isLast) finish?.(encoder);
      this.device.queue.submit([encoder.finish()]);
      counters.submissions++;
    };
    if (!stream) {
      segment(p.first, p.last, true, true);
      return counters;
    }
    stream.uploadedBytes = 0;
    stream.upload(0);
    for (let k = 0; k < streamed; k++) {
      if (k + 1 < streamed) stream.upload(k + 1);
      const layer = stream.layers[k];
      const last = k + 1 === streamed;
      segment(layer, last ? p.last : layer, k === 0, last);
    }
    counters.uploadBytes = stream.uploadedBytes;
    return counters;
  }

  /**
   * The logits of the sampling pass whose result was read last (diagnostics and tests; the decode
   * loop never reads them back). Later passes already in flight write other ring slots.
   */
  async readLogits(): Promise<Float32Array> {
    const logits = this.scratch.get(`logits.${this.lastReadSlot}`)!;
    const bytes = this.outputRows * 4;
    const staging = this.createBuffer(
      'scratch',
      'logits.readback',
      bytes,
      GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    );
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(logits, 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0, bytes));
    this.allocator.release(staging);
    return out;
  }

  /** Writes the pass's token ids and its step uniform (token count, position). */
  writeInputs(tokens: number[], position: number): void {
    this.device.queue.writeBuffer(this.scratch.get('tokens')!, 0, new Uint32Array(tokens));
    this.writeStep(tokens.length, position);
  }

  /**
   * Writes only the step uniform: the pass's one token is the id the previous sampling pass
   * copied into the token buffer on the GPU.
   */
  writeStep(ntok: number, position: number): void {
    this.position = position;
    this.device.queue.writeBuffer(
      this.scratch.get('step')!,
      0,
      packStruct(STEP, { ntok, pos0: position }),
    );
  }

  /** Writes the sampler's uniform words and, when given, token ids into the history ring. */
  writeSampling(words: ArrayBuffer, history: HistoryWrite | null): void {
    const queue = this.device.queue;
    queue.writeBuffer(this.scratch.get('sampling')!, 0, words);
    if (!history) return;
    const ring = this.scratch.get('history')!;
    // The ids land at their ring slots, wrapping once at most (fewer ids than slots).
    const first = history.start % HISTORY_RING;
    const head = history.ids.subarray(0, HISTORY_RING - first);
    queue.writeBuffer(ring, first * 4, head);
    const rest = history.ids.subarray(head.length);
    if (rest.length) queue.writeBuffer(ring, 0, rest);
  }

  /** `runPass` submits before its first wait. */
  readonly submitsAtOnce = true;

  /** Runs a pass that samples nothing (a prefill chunk before the last) to completion. */
  async runPass(ntok: number): Promise<PassCounters> {
    const counters = this.submitPass(ntok, null);
    await waitForPass(this.device.queue.onSubmittedWorkDone());
    return counters;
  }

  /** Ids this model feeds from one sampling pass to the next on the GPU (see `submitSampling`). */
  get feedsBack(): boolean {
    return this.placement.holdsEmbedding && this.placement.holdsOutput;
  }

  /**
   * Submits a pass that samples after its last token and returns without waiting: the result
   * words go to the next readback slot, whose mapping starts at once, and the chosen id is copied
   * into the token buffer, where the next pass's embedding reads it.
   */
  async submitSampling(
    ntok: number,
    options: { topLogits: boolean; greedy: boolean },
  ): Promise<SampledPass> {
    const slot = this.nextSlot;
    this.nextSlot = (slot + 1) % SAMPLED_RING;
    const result = this.scratch.get('result')!;
    const readback = this.scratch.get(`readback.${slot}`)!;
    const tokens = this.scratch.get('tokens')!;
    const counters = this.submitPass(ntok, { slot, ...options }, (encoder) => {
      encoder.copyBufferToBuffer(result, 0, readback, 0, RESULT_WORDS * 4);
      encoder.copyBufferToBuffer(result, 0, tokens, 0, 4);
    });
    this.mapping[slot] = waitForPass(readback.mapAsync(GPUMapMode.READ));
    return { counters, slot };
  }

  /** The result words of a submitted sampling pass: the id, then top-logit pairs. */
  async readSampled(pass: SampledPass): Promise<Uint32Array> {
    const readback = this.scratch.get(`readback.${pass.slot}`)!;
    await this.mapping[pass.slot];
    const words = new Uint32Array(readback.getMappedRange().slice(0, RESULT_WORDS * 4));
    readback.unmap();
    this.lastReadSlot = pass.slot;
    return words;
  }

  /** Bytes of the model's weights as packed on the GPU. */
  get weightBytes(): number {
    return [this.embedding, this.head, ...this.layers].reduce((a, g) => a + g.bytes, 0);
  }

  destroy(): void {
    this.allocator.destroyAll();
  }
}

const ROPE_FACTORS = ['rope_freqs.weight', 'rope_factors_short.weight', 'rope_factors_long.weight'];

/**
 * The tensor of per-frequency RoPE factors for this context, as llama.cpp picks it: Llama 3's
 * `rope_freqs`, else LongRoPE's long factors past the original context and short ones within it.
 */
export function ropeFactorsTensor(header: ModelHeader, contextTokens: number): string {
  const h = header.hparams;
  if (header.tensors.some((t) => t.name === 'rope_freqs.weight')) return 'rope_freqs.weight';
  const original = h.ropeScaling.originalContextLength ?? h.contextLength;
  return contextTokens > original ? 'rope_factors_long.weight' : 'rope_factors_short.weight';
}

/** Tensors whose bytes a decode token reads (for the structure test and stats). */
export function decodeTensors(tensors: TensorInfo[]): TensorInfo[] {
  const tied = !tensors.some((t) => t.name === 'output.weight');
  return tensors.filter(
    (t) => (t.name !== 'token_embd.weight' || tied) && !ROPE_FACTORS.includes(t.name),
  );
}
