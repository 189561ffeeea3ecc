// The forward pass on the GPU. Weights: one buffer per transformer layer, one for the head
// (output norm, rope factors, output layer) and one for the token embedding, each laid out by
// `groupLayout`. Scratch and KV buffers come from `engineBufferPlan`. Pipelines and bind groups
// are built once at load; a pass is recorded as a list of dispatches, so a decode token is one
// compute pass, one queue submission, and 6 dispatches per layer.
import {
  engineBufferPlan,
  qkvWidth,
  type ComputePrecision,
  type EngineBufferPlan,
} from './buffer-plan';
import {
  groupLayout,
  headTensors,
  layerTensors,
  type GroupLayout,
  type PackedMatrix,
} from './layout';
import {
  matmulKernel,
  matmulRows,
  rowWorkgroups,
  type MatmulSegment,
  type MatmulSpec,
} from './kernels/matmul';
import { embedKernel } from './kernels/embed';
import {
  attentionKernel,
  ropeKernel,
  ropeTable,
  sampleKernel,
  topLogitsKernel,
} from './kernels/fixed';
import { PipelineCache, type BufferSlice, type Kernel } from './kernels/pipeline';
import { uploadGroup } from './weights';
import { vectorToF32 } from './repack';
import type { ModelHeader, ModelHparams, ModelSource, TensorInfo } from './types';

export interface ModelLoadOptions {
  contextTokens: number;
  computePrecision: ComputePrecision;
  prefillChunk?: number;
  /** Cap on one storage binding (tests force row splitting with a small one). */
  maxBindingBytes?: number;
  signal?: AbortSignal;
  onProgress?: (loaded: number, total: number) => void;
}

export interface Dispatch {
  kernel: Kernel;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
  /** Dispatched once per token of the pass along y (rope, attention). */
  perToken?: boolean;
  /** Weight bytes this dispatch reads (for decode accounting). */
  weightBytes: number;
  label: string;
}

export interface PassCounters {
  dispatches: number;
  weightBytes: number;
}

/** Buffers of the plan, by name. */
type Scratch = Map<string, GPUBuffer>;

function matrixBytes(m: PackedMatrix): number {
  return m.parts.reduce((a, p) => a + p.bytes, 0);
}

export class GgufModel {
  readonly layers: GroupLayout[];
  readonly head: GroupLayout;
  readonly embedding: GroupLayout;
  private layerDispatches: Dispatch[][] = [];
  private embedDispatch!: Dispatch;
  private outputDispatch!: Dispatch;
  private sampleDispatch!: Dispatch;
  private topLogitsDispatch!: Dispatch;
  private readonly gpuBuffers: GPUBuffer[] = [];
  readonly weightBuffers: GPUBuffer[] = [];
  readonly scratch: Scratch = new Map();
  readonly plan: EngineBufferPlan;
  readonly cache: PipelineCache;

  private constructor(
    readonly device: GPUDevice,
    readonly header: ModelHeader,
    readonly options: ModelLoadOptions,
    readonly maxBindingBytes: number,
  ) {
    const tensors = header.tensors;
    const h = header.hparams;
    this.layers = Array.from({ length: h.blockCount }, (_, i) =>
      groupLayout(layerTensors(tensors, i), maxBindingBytes),
    );
    this.head = groupLayout(headTensors(tensors), maxBindingBytes);
    this.embedding = groupLayout(
      tensors.filter((t) => t.name === 'token_embd.weight'),
      maxBindingBytes,
    );
    this.plan = engineBufferPlan(h, {
      contextTokens: options.contextTokens,
      computePrecision: options.computePrecision,
      prefillChunk: options.prefillChunk,
    });
    this.cache = new PipelineCache(device);
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
      await model.build();
    } catch (error) {
      model.destroy();
      throw error;
    }
    return model;
  }

  private createBuffer(label: string, size: number, usage: number): GPUBuffer {
    const buffer = this.device.createBuffer({ label, size: Math.max(16, size), usage });
    this.gpuBuffers.push(buffer);
    return buffer;
  }

  private async upload(source: ModelSource): Promise<void> {
    const groups = [this.embedding, ...this.layers, this.head];
    const total = groups.reduce((a, g) => a + g.bytes, 0);
    let loaded = 0;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    const labels = ['token_embd', ...this.layers.map((_, i) => `blk.${i}`), 'head'];
    for (const [i, group] of groups.entries()) {
      const buffer = this.createBuffer(labels[i], group.bytes, usage);
      this.weightBuffers.push(buffer);
      await uploadGroup(this.device, buffer, source, group, {
        signal: this.options.signal,
        onBytes: (n) => {
          loaded += n;
          this.options.onProgress?.(loaded, total);
        },
      });
    }
    for (const b of this.plan.buffers) {
      const use =
        b.usage === 'uniform'
          ? GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST
          : b.usage === 'readback'
            ? GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST
            : GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
      this.scratch.set(b.name, this.createBuffer(b.name, b.bytes, use));
    }
    const freqs = await this.ropeFactors(source);
    const table = ropeTable(this.hparams, this.options.contextTokens, freqs);
    this.device.queue.writeBuffer(this.scratch.get('rope')!, 0, table);
  }

  private async ropeFactors(source: ModelSource): Promise<Float32Array | undefined> {
    const info = this.header.tensors.find((t) => t.name === 'rope_freqs.weight');
    if (!info) return undefined;
    const bytes = await source.read(info.offset, info.bytes, this.options.signal);
    return vectorToF32(info, bytes);
  }

  private get embeddingBuffer(): GPUBuffer {
    return this.weightBuffers[0];
  }

  private layerBuffer(i: number): GPUBuffer {
    return this.weightBuffers[1 + i];
  }

  private get headBuffer(): GPUBuffer {
    return this.weightBuffers[this.weightBuffers.length - 1];
  }

  private buf(name: string): BufferSlice {
    return { buffer: this.scratch.get(name)! };
  }

  private segments(group: GroupLayout, names: string[], biases: boolean): MatmulSegment[] {
    let column = 0;
    return names.map((name) => {
      const m = group.matrices.get(name);
      if (!m) throw new Error(`tensor ${name} is missing from the model`);
      const bias = biases ? group.vectors.get(name.replace(/\.weight$/, '.bias')) : undefined;
      const segment = {
        parts: m.parts.map((p) => ({ type: m.type, rowStart: p.rowStart, rows: p.rows })),
        rows: m.rows,
        outColumn: column,
        biasIndex: bias?.index,
      };
      column += m.rows;
      return segment;
    });
  }

  private weightSlices(buffer: GPUBuffer, group: GroupLayout, names: string[]): BufferSlice[] {
    return names.flatMap((n) =>
      group.matrices.get(n)!.parts.map((p) => ({ buffer, offset: p.offset, size: p.bytes })),
    );
  }

  private async matmul(
    spec: MatmulSpec,
    label: string,
    x: BufferSlice,
    vecs: BufferSlice,
    y: BufferSlice,
    weights: BufferSlice[],
    weightBytes: number,
  ): Promise<Dispatch> {
    const kernel = await this.cache.get(matmulKernel(spec), label);
    const bindGroup = this.cache.bindGroup(
      kernel,
      [this.buf('step'), x, vecs, y, ...weights],
      label,
    );
    const [wx, wy] = rowWorkgroups(matmulRows(spec));
    return { kernel, bindGroup, workgroups: [wx, wy, 1], weightBytes, label };
  }

  private async build(): Promise<void> {
    const h = this.hparams;
    const precision = this.options.computePrecision;
    const eps = h.rmsEpsilon;
    const qkvStride = qkvWidth(h);
    const kv = (i: number) => this.scratch.get(`kv.${i}`)!;
    const kvKeyBytes = this.plan.kvValueOffset;
    for (let i = 0; i < h.blockCount; i++) {
      const group = this.layers[i];
      const buffer = this.layerBuffer(i);
      const vecs = { buffer, offset: 0, size: group.vectorBytes };
      const p = `blk.${i}.`;
      const names = (...n: string[]) => n.map((x) => `${p}${x}.weight`);
      const bytes = (...n: string[]) =>
        names(...n).reduce((a, x) => a + matrixBytes(group.matrices.get(x)!), 0) +
        group.vectorBytes;
      const qkv = names('attn_q', 'attn_k', 'attn_v');
      const vector = (n: string) => group.vectors.get(`${p}${n}.weight`)?.index;
      const dispatches: Dispatch[] = [];
      dispatches.push(
        await this.matmul(
          {
            precision,
            inputLength: h.embeddingLength,
            inputStride: h.embeddingLength,
            outputStride: qkvStride,
            mode: 'plain',
            segments: this.segments(group, qkv, true),
            normIndex: vector('attn_norm'),
            eps,
          },
          `${p}qkv`,
          this.buf('hidden'),
          vecs,
          this.buf('qkv'),
          this.weightSlices(buffer, group, qkv),
          bytes('attn_q', 'attn_k', 'attn_v'),
        ),
      );
      const kvBuffer = kv(i);
      const kSlice = { buffer: kvBuffer, offset: 0, size: kvKeyBytes };
      const vSlice = { buffer: kvBuffer, offset: kvKeyBytes, size: kvBuffer.size - kvKeyBytes };
      const rope = await this.cache.get(
        ropeKernel(h, { qNormIndex: vector('attn_q_norm'), kNormIndex: vector('attn_k_norm') }),
        'rope',
      );
      dispatches.push({
        kernel: rope,
        bindGroup: this.cache.bindGroup(rope, [
          this.buf('step'),
          this.buf('qkv'),
          vecs,
          this.buf('rope'),
          kSlice,
          vSlice,
        ]),
        workgroups: [h.headCount + 2 * h.headCountKv, 1, 1],
        perToken: true,
        weightBytes: 0,
        label: `${p}rope`,
      });
      const attention = await this.cache.get(attentionKernel(h), 'attention');
      dispatches.push({
        kernel: attention,
        bindGroup: this.cache.bindGroup(attention, [
          this.buf('step'),
          this.buf('qkv'),
          kSlice,
          vSlice,
          this.buf('attention'),
        ]),
        workgroups: [h.headCount, 1, 1],
        perToken: true,
        weightBytes: 0,
        label: `${p}attention`,
      });
      const out = names('attn_output');
      dispatches.push(
        await this.matmul(
          {
            precision,
            inputLength: h.headCount * h.valueLength,
            inputStride: h.headCount * h.valueLength,
            outputStride: h.embeddingLength,
            mode: 'residual',
            segments: this.segments(group, out, false),
          },
          `${p}attn_output`,
          this.buf('attention'),
          vecs,
          this.buf('hidden'),
          this.weightSlices(buffer, group, out),
          bytes('attn_output') - group.vectorBytes,
        ),
      );
      const gateUp = names('ffn_gate', 'ffn_up');
      dispatches.push(
        await this.matmul(
          {
            precision,
            inputLength: h.embeddingLength,
            inputStride: h.embeddingLength,
            outputStride: h.feedForwardLength,
            mode: 'swiglu',
            segments: this.segments(group, gateUp, false),
            normIndex: vector('ffn_norm'),
            eps,
          },
          `${p}ffn_gate_up`,
          this.buf('hidden'),
          vecs,
          this.buf('ffn'),
          this.weightSlices(buffer, group, gateUp),
          bytes('ffn_gate', 'ffn_up') - group.vectorBytes,
        ),
      );
      const down = names('ffn_down');
      dispatches.push(
        await this.matmul(
          {
            precision,
            inputLength: h.feedForwardLength,
            inputStride: h.feedForwardLength,
            outputStride: h.embeddingLength,
            mode: 'residual',
            segments: this.segments(group, down, false),
          },
          `${p}ffn_down`,
          this.buf('ffn'),
          vecs,
          this.buf('hidden'),
          this.weightSlices(buffer, group, down),
          bytes('ffn_down') - group.vectorBytes,
        ),
      );
      this.layerDispatches.push(dispatches);
    }
    await this.buildHead();
  }

  private async buildHead(): Promise<void> {
    const h = this.hparams;
    const precision = this.options.computePrecision;
    const embd = this.embedding.matrices.get('token_embd.weight')!;
    const embedParts = embd.parts.map((p) => ({
      type: embd.type,
      rowStart: p.rowStart,
      rows: p.rows,
    }));
    const embed = await this.cache.get(
      embedKernel(precision, embedParts, h.embeddingLength, embd.rows),
      'embed',
    );
    this.embedDispatch = {
      kernel: embed,
      bindGroup: this.cache.bindGroup(embed, [
        this.buf('step'),
        this.buf('tokens'),
        this.buf('hidden'),
        ...this.weightSlices(this.embeddingBuffer, this.embedding, ['token_embd.weight']),
      ]),
      workgroups: [0, 1, 1],
      weightBytes: embd.rowBytes,
      label: 'embed',
    };
    const tied = !this.head.matrices.has('output.weight');
    const outGroup = tied ? this.embedding : this.head;
    const outName = tied ? 'token_embd.weight' : 'output.weight';
    const outBuffer = tied ? this.embeddingBuffer : this.headBuffer;
    const out = outGroup.matrices.get(outName)!;
    this.outputDispatch = await this.matmul(
      {
        precision,
        inputLength: h.embeddingLength,
        inputStride: h.embeddingLength,
        outputStride: out.rows,
        mode: 'plain',
        segments: this.segments(outGroup, [outName], false),
        normIndex: this.head.vectors.get('output_norm.weight')?.index,
        eps: h.rmsEpsilon,
        lastTokenOnly: true,
      },
      'output',
      this.buf('hidden'),
      { buffer: this.headBuffer, offset: 0, size: this.head.vectorBytes },
      this.buf('logits'),
      this.weightSlices(outBuffer, outGroup, [outName]),
      matrixBytes(out) + this.head.vectorBytes,
    );
    const sample = await this.cache.get(sampleKernel(out.rows), 'sample');
    this.sampleDispatch = {
      kernel: sample,
      bindGroup: this.cache.bindGroup(sample, [
        this.buf('sampling'),
        this.buf('logits'),
        this.buf('history'),
        this.buf('sampling.work'),
        this.buf('result'),
      ]),
      workgroups: [1, 1, 1],
      weightBytes: 0,
      label: 'sample',
    };
    const top = await this.cache.get(topLogitsKernel(out.rows), 'top-logits');
    this.topLogitsDispatch = {
      kernel: top,
      bindGroup: this.cache.bindGroup(top, [
        this.buf('sampling'),
        this.buf('logits'),
        this.buf('result'),
      ]),
      workgroups: [1, 1, 1],
      weightBytes: 0,
      label: 'top-logits',
    };
  }

  /** Logit rows of the output layer (the vocabulary the sampler draws from). */
  get outputRows(): number {
    const tied = !this.head.matrices.has('output.weight');
    return (tied ? this.embedding : this.head).matrices.get(
      tied ? 'token_embd.weight' : 'output.weight',
    )!.rows;
  }

  /**
   * Records one pass over `ntok` tokens into `pass`: embedding, every layer, and with `logits`
   * the output layer for the last token, the sampler and (with `topLogits`) the top-logits kernel.
   */
  encodePass(
    pass: GPUComputePassEncoder,
    ntok: number,
    logits: boolean,
    topLogits: boolean,
  ): PassCounters {
    const counters: PassCounters = { dispatches: 0, weightBytes: 0 };
    const run = (d: Dispatch, wx: number, wy: number) => {
      pass.setPipeline(d.kernel.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(wx, wy, d.workgroups[2]);
      counters.dispatches++;
      counters.weightBytes += d.weightBytes * (d.label === 'embed' ? ntok : 1);
    };
    run(this.embedDispatch, ntok, 1);
    for (const layer of this.layerDispatches) {
      for (const d of layer) {
        run(d, d.workgroups[0], d.perToken ? ntok : d.workgroups[1]);
      }
    }
    if (logits) {
      run(
        this.outputDispatch,
        this.outputDispatch.workgroups[0],
        this.outputDispatch.workgroups[1],
      );
      run(this.sampleDispatch, 1, 1);
      if (topLogits) run(this.topLogitsDispatch, 1, 1);
    }
    return counters;
  }

  /** The last pass's logits (diagnostics and tests; the decode loop never reads them back). */
  async readLogits(): Promise<Float32Array> {
    const logits = this.scratch.get('logits')!;
    const bytes = this.outputRows * 4;
    const staging = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(logits, 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.destroy();
    return out;
  }

  /** Bytes of the model's weights as packed on the GPU. */
  get weightBytes(): number {
    return [this.embedding, this.head, ...this.layers].reduce((a, g) => a + g.bytes, 0);
  }

  destroy(): void {
    for (const b of this.gpuBuffers) b.destroy();
    this.gpuBuffers.length = 0;
  }
}

/** Tensors whose bytes a decode token reads (for the structure test and stats). */
export function decodeTensors(tensors: TensorInfo[]): TensorInfo[] {
  const tied = !tensors.some((t) => t.name === 'output.weight');
  return tensors.filter(
    (t) => (t.name !== 'token_embd.weight' || tied) && t.name !== 'rope_freqs.weight',
  );
}
