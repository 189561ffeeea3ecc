// A loaded encoder (the BERT family) on one GPU: its weights laid out as the decoder's are (one
// buffer per layer, one for the global tensors, one for the token embedding), the scratch buffers
// of `encoderBuffers`, and passes that run several whole sequences packed back to back, each
// attending only within itself, returning every token's final hidden state.
import { GpuAllocator } from './allocator';
import { ARCHITECTURES } from './architectures';
import type { ComputePrecision } from './buffer-plan';
import { encoderBuffers } from './encoder-plan';
import { buildEncoderGraph, type EncoderGraph } from './encoder-graph';
import type { Dispatch } from './graph-parts';
import { ropeTable } from './kernels/fixed';
import { packStruct, STEP } from './kernels/host-structs';
import { PipelineCache } from './kernels/pipeline';
import { groupLayout, headTensors, layerTensors, type GroupLayout } from './layout';
import { vectorToF32 } from './repack';
import { GGMLType, typeName, type ModelHeader, type ModelSource } from './types';
import { uploadGroup } from './weights';
import { waitForPass } from '../../gpu/pass-wait';

export interface EncoderLoadOptions {
  /** The longest sequence, and the most tokens one pass carries. */
  contextTokens: number;
  computePrecision: ComputePrecision;
  /** Threads per output row in the matmul kernels (see `defaultLanesPerRow`). */
  lanesPerRow?: number;
  /** Cap on one storage binding (tests force row splitting with a small one). */
  maxBindingBytes?: number;
  signal?: AbortSignal;
  onProgress?: (loaded: number, total: number) => void;
}

export class EncoderModel {
  readonly layers: GroupLayout[];
  readonly head: GroupLayout;
  readonly embedding: GroupLayout;
  readonly allocator: GpuAllocator;
  readonly cache: PipelineCache;
  readonly scratch = new Map<string, GPUBuffer>();
  private readonly layerBuffers: GPUBuffer[] = [];
  private headBuffer?: GPUBuffer;
  private embeddingBuffer?: GPUBuffer;
  private graph: EncoderGraph = { embed: [], layers: [] };

  private constructor(
    readonly device: GPUDevice,
    readonly header: ModelHeader,
    readonly options: EncoderLoadOptions,
    maxBindingBytes: number,
  ) {
    const tensors = header.tensors;
    this.layers = Array.from({ length: header.hparams.blockCount }, (_, i) =>
      groupLayout(layerTensors(tensors, i), maxBindingBytes),
    );
    this.head = groupLayout(headTensors(tensors), maxBindingBytes);
    this.embedding = groupLayout(
      tensors.filter((t) => t.name === 'token_embd.weight'),
      maxBindingBytes,
    );
    this.allocator = new GpuAllocator(device, 'device 0');
    this.cache = new PipelineCache(device);
  }

  static async load(
    device: GPUDevice,
    source: ModelSource,
    header: ModelHeader,
    options: EncoderLoadOptions,
  ): Promise<EncoderModel> {
    const h = header.hparams;
    const learned = ARCHITECTURES[h.architecture].encoder?.positions === 'learned';
    if (learned && options.contextTokens > h.contextLength) {
      throw new Error(
        `${h.name} has learned positions for ${h.contextLength} tokens; load it with a context of ` +
          `at most ${h.contextLength}, not ${options.contextTokens}.`,
      );
    }
    const cap = Math.min(
      options.maxBindingBytes ?? Infinity,
      device.limits.maxStorageBufferBindingSize,
    );
    const model = new EncoderModel(device, header, options, Math.floor(cap / 4) * 4);
    try {
      await model.upload(source);
      model.graph = await buildEncoderGraph({
        device,
        cache: model.cache,
        hparams: h,
        computePrecision: options.computePrecision,
        lanesPerRow: options.lanesPerRow,
        contextTokens: options.contextTokens,
        layers: model.layers,
        head: model.head,
        embedding: model.embedding,
        layerBuffers: model.layerBuffers,
        headBuffer: model.headBuffer!,
        embeddingBuffer: model.embeddingBuffer!,
        scratch: model.scratch,
      });
    } catch (error) {
      model.destroy();
      throw error;
    }
    return model;
  }

  get contextTokens(): number {
    return this.options.contextTokens;
  }

  private async upload(source: ModelSource): Promise<void> {
    const groups: [string, GroupLayout][] = [
      ['token_embd', this.embedding],
      ...this.layers.map((g, i): [string, GroupLayout] => [`blk.${i}`, g]),
      ['head', this.head],
    ];
    const total = groups.reduce((a, [, g]) => a + g.bytes, 0);
    let loaded = 0;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    for (const [label, group] of groups) {
      const buffer = this.allocator.create('weights', label, group.bytes, usage);
      if (label === 'token_embd') this.embeddingBuffer = buffer;
      else if (label === 'head') this.headBuffer = buffer;
      else this.layerBuffers.push(buffer);
      await uploadGroup(this.device, buffer, source, group, {
        signal: this.options.signal,
        onBytes: (n) => {
          loaded += n;
          this.options.onProgress?.(loaded, total);
        },
      });
    }
    for (const b of encoderBuffers(this.header.hparams, this.options)) {
      const use =
        b.usage === 'uniform'
          ? GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST
          : b.usage === 'readback'
            ? GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST
            : GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
      this.scratch.set(b.name, this.allocator.create('scratch', b.name, b.bytes, use));
    }
    const queue = this.device.queue;
    queue.writeBuffer(this.scratch.get('positions')!, 0, await this.positionTable(source));
    const rope = this.scratch.get('rope');
    if (rope) queue.writeBuffer(rope, 0, ropeTable(this.header.hparams, this.contextTokens));
  }

  /**
   * Row p: the learned position p's embedding (BERT) plus token type 0's, which llama.cpp adds to
   * every token; nomic-bert has no learned positions, so every row is the token type's.
   */
  private async positionTable(source: ModelSource): Promise<Float32Array> {
    const e = this.header.hparams.embeddingLength;
    const table = new Float32Array(this.contextTokens * e);
    const read = async (name: string, values: number) => {
      const info = this.header.tensors.find((t) => t.name === name);
      if (!info) return undefined;
      if (![GGMLType.F32, GGMLType.F16, GGMLType.BF16].includes(info.type)) {
        throw new Error(
          `${name} is stored as ${typeName(info.type)}; the engine reads position and token-type ` +
            'embeddings as F32, F16 or BF16: use a file that keeps them unquantized.',
        );
      }
      const bytes = await source.read(info.offset, info.bytes, this.options.signal);
      return vectorToF32(info, bytes).subarray(0, values);
    };
    const type = await read('token_types.weight', e);
    const positions = await read('position_embd.weight', this.contextTokens * e);
    for (let p = 0; p < this.contextTokens; p++) {
      for (let i = 0; i < e; i++) {
        table[p * e + i] = (positions?.[p * e + i] ?? 0) + (type?.[i] ?? 0);
      }
    }
    return table;
  }

  /**
   * Runs `sequences` (token ids, each starting at position 0) packed into one pass and returns
   * the final hidden state of every token, sequence after sequence ([tokens x embedding]).
   */
  async run(sequences: number[][]): Promise<Float32Array> {
    const ntok = sequences.reduce((a, s) => a + s.length, 0);
    if (ntok === 0 || ntok > this.contextTokens) {
      throw new RangeError(
        `an encoder pass carries 1 to ${this.contextTokens} tokens; these sequences have ${ntok}`,
      );
    }
    const tokens = new Uint32Array(ntok);
    const spans = new Uint32Array(ntok * 2);
    let at = 0;
    for (const s of sequences) {
      tokens.set(s, at);
      for (let t = at; t < at + s.length; t++) {
        spans[t * 2] = at;
        spans[t * 2 + 1] = at + s.length;
      }
      at += s.length;
    }
    const queue = this.device.queue;
    queue.writeBuffer(this.scratch.get('tokens')!, 0, tokens);
    queue.writeBuffer(this.scratch.get('spans')!, 0, spans);
    queue.writeBuffer(this.scratch.get('step')!, 0, packStruct(STEP, { ntok, pos0: 0 }));
    const encoder = this.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    const dispatch = (d: Dispatch) => {
      pass.setPipeline(d.kernel.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      if (d.label === 'embed') pass.dispatchWorkgroups(ntok, 1, 1);
      else pass.dispatchWorkgroups(d.workgroups[0], d.perToken ? ntok : d.workgroups[1], 1);
    };
    this.graph.embed.forEach(dispatch);
    for (const layer of this.graph.layers) layer.forEach(dispatch);
    pass.end();
    const bytes = ntok * this.header.hparams.embeddingLength * 4;
    const readback = this.scratch.get('hidden.readback')!;
    encoder.copyBufferToBuffer(this.scratch.get('hidden')!, 0, readback, 0, bytes);
    queue.submit([encoder.finish()]);
    await waitForPass(readback.mapAsync(GPUMapMode.READ, 0, bytes));
    const rows = new Float32Array(readback.getMappedRange(0, bytes).slice(0));
    readback.unmap();
    return rows;
  }

  destroy(): void {
    this.allocator.destroyAll();
  }
}
