// The forward pass as a list of dispatches, built once at load from the model's architecture entry
// (`ARCHITECTURES`), its packed weight groups and the engine's buffers: per layer the attention
// norm, the q/k/v product, q/k norm + RoPE + KV store, attention, the output projection with its
// residual add, the FFN norm, gate/up with its activation and the down projection with its
// residual add; then the token embedding, the output layer and the sampler. The products come
// from graph-products.ts; what the builders share is in graph-parts.ts.
import { ARCHITECTURES, type ArchitectureSpec } from './architectures';
import { attentionSplit, qkvWidth, SAMPLED_RING } from './buffer-plan';
import { embedKernel } from './kernels/embed';
import { weightParts } from './kernels/dequant';
import { attentionKernels } from './kernels/attention';
import { normAddKernel, ropeKernel, topLogitsKernel } from './kernels/fixed';
import { sampleStages } from './kernels/sample';
import {
  attentionTiles,
  prefillAttentionKernel,
  queryAttentionKernel,
  queryAttentionWorkgroups,
  querySplitWorkgroups,
  subgroupAttentionKernel,
  subgroupAttentionLanes,
  subgroupAttentionWorkgroups,
  subgroupDecodeAttentionKernel,
  subgroupDecodeWorkgroups,
  type AttentionLanes,
} from './kernels/prefill-attention';
import { rmsNormKernel } from './kernels/rms-norm';
import { isSlidingLayer } from './hparams';
import type { BufferSlice, KernelVariant } from './kernels/pipeline';
import type { ModelHparams } from './types';
import {
  fixedDispatch,
  fusedGateUp,
  matrixBytes,
  outputMatrix,
  scratchSlice,
  segments,
  weightSlices,
  type Dispatch,
  type GraphInputs,
} from './graph-parts';
import { ProductBuilder } from './graph-products';
import { deviceSubgroups } from '../../gpu/probe';

/** The output layer and the sampler over one ring slot's logits buffer. */
export interface SamplingHead {
  /** The output norm of the pass's last token, run before `output` (absent without one). */
  outputNorm?: Dispatch;
  /** The last token's input quantized for `output` (8-bit inputs), run after the norm. */
  outputInput?: Dispatch;
  output: Dispatch;
  sample: Dispatch[];
  /** The dispatches of `sample` a greedy pass needs. */
  greedySample: Dispatch[];
  topLogits: Dispatch;
}

export interface Graph {
  /** Per layer of the placement, first to last. */
  layers: Dispatch[][];
  embed?: Dispatch;
  /** One per slot of the sampled-pass ring (`SAMPLED_RING`). */
  heads?: SamplingHead[];
}

/** Features of an architecture entry the dispatches below do not carry out yet. */
function unsupportedFeatures(spec: ArchitectureSpec): string[] {
  const missing: string[] = [];
  if (spec.norm !== 'rms') missing.push('LayerNorm');
  if (!spec.gatedFfn) missing.push('ungated FFN');
  return missing;
}

class GraphBuilder {
  private readonly h: ModelHparams;
  private readonly spec: ArchitectureSpec;
  private readonly products: ProductBuilder;
  constructor(private readonly g: GraphInputs) {
    this.products = new ProductBuilder(g);
    this.h = g.hparams;
    this.spec = ARCHITECTURES[g.hparams.architecture];
  }

  private buf(name: string): BufferSlice {
    return scratchSlice(this.g, name);
  }

  /**
   * The RMSNorm pass writing `hidden` normalised into `normed`, or with `quantize` as the next
   * product's 8-bit input into `input.q8` (every token, or with `lastToken` the last), and the
   * buffer the product after it reads: that, or `hidden` without a norm.
   */
  private async rmsNorm(
    normIndex: number | undefined,
    vecs: BufferSlice,
    label: string,
    { lastToken = false, quantize = false } = {},
  ): Promise<{ dispatches: Dispatch[]; input: BufferSlice; quantized: boolean }> {
    if (normIndex === undefined) {
      return { dispatches: [], input: this.buf('hidden'), quantized: false };
    }
    const kernel = await this.g.cache.get(
      rmsNormKernel({
        length: this.h.embeddingLength,
        normIndex,
        eps: this.h.rmsEpsilon,
        lastToken,
        quantize,
        workgroup: this.g.passWorkgroup,
      }),
      'rms-norm',
    );
    const output = this.buf(quantize ? 'input.q8' : 'normed');
    const norm = fixedDispatch(
      this.g,
      kernel,
      [this.buf('step'), this.buf('hidden'), vecs, output],
      1,
      label,
    );
    norm.perToken = !lastToken;
    return { dispatches: [norm], input: output, quantized: quantize };
  }

  /**
   * The lanes prompts' per-query attention spreads a head over, where the device's subgroups fit
   * (`subgroupAttentionLanes`); undefined: one thread per two queries.
   */
  private attentionLanes(): AttentionLanes | undefined {
    const subgroups = deviceSubgroups(this.g.device);
    return subgroupAttentionLanes(this.h, subgroups.enabled, subgroups.min, subgroups.max);
  }

  /**
   * Layer i's attention in passes of more than one token: tiles of queries per workgroup, or per
   * query (four per subgroup, or two per thread); undefined: the decode kernels run over the pass
   * (`split`).
   */
  private async prefillAttention(
    i: number,
    k: BufferSlice,
    v: BufferSlice,
  ): Promise<Dispatch | undefined> {
    const h = this.h;
    const how = this.g.prefill.attention;
    if (how === 'split') return undefined;
    const window = isSlidingLayer(h, i) ? h.slidingWindow : 0;
    const label = `blk.${i}.attention (prefill)`;
    const tiles = attentionTiles(h, this.g.device.limits.maxComputeWorkgroupStorageSize);
    const lanes = how === 'per-query' ? this.attentionLanes() : undefined;
    let variant: KernelVariant;
    let grid: (ntok: number) => [number, number, number];
    if (how === 'tiled') {
      variant = prefillAttentionKernel(h, window, tiles);
      grid = (ntok) => [h.headCount, Math.ceil(ntok / tiles.queries), 1];
    } else if (lanes) {
      variant = subgroupAttentionKernel(h, window, lanes);
      grid = (ntok) => subgroupAttentionWorkgroups(h, ntok, lanes);
    } else {
      variant = queryAttentionKernel(h, window);
      grid = (ntok) => queryAttentionWorkgroups(h, ntok);
    }
    const kernel = await this.g.cache.get(variant, label);
    return {
      kernel,
      bindGroup: this.g.cache.bindGroup(
        kernel,
        [this.buf('step'), this.buf('qkv'), k, v, this.buf('attention')],
        label,
      ),
      workgroups: [h.headCount, 1, 1],
      grid,
      weightBytes: 0,
      label,
    };
  }

  async layer(i: number): Promise<Dispatch[]> {
    const h = this.h;
    const precision = this.g.computePrecision;
    const group = this.g.layers[i];
    const buffer = this.g.layerBuffer(i);
    const vecs = { buffer, offset: 0, size: group.vectorBytes };
    const p = `blk.${i}.`;
    const names = (...n: string[]) => n.map((x) => `${p}${x}.weight`);
    const bytes = (...n: string[]) =>
      names(...n).reduce((a, x) => a + matrixBytes(group.matrices.get(x)!), 0);
    const vector = (n: string) => group.vectors.get(`${p}${n}.weight`)?.index;
    const qkvParts = this.spec.fusedQkv ? ['attn_qkv'] : ['attn_q', 'attn_k', 'attn_v'];
    const qkv = names(...qkvParts);
    const kv = this.g.scratch.get(`kv.${i}`)!;
    const kvKeyBytes = this.g.plan.kvValueOffset;
    const kSlice = { buffer: kv, offset: 0, size: kvKeyBytes };
    const vSlice = { buffer: kv, offset: kvKeyBytes, size: kv.size - kvKeyBytes };
    const sliding = isSlidingLayer(h, i);
    const skip = this.spec.ropeSkipPeriod;
    const noRope = skip > 0 && (i + 1) % skip === 0;
    const rope = await this.g.cache.get(
      ropeKernel(h, {
        qNormIndex: vector('attn_q_norm'),
        kNormIndex: vector('attn_k_norm'),
        noRope,
        workgroup: this.g.passWorkgroup,
      }),
      'rope',
    );
    const window = sliding ? h.slidingWindow : 0;
    const attention = attentionKernels(h, this.g.contextTokens, window, this.g.passWorkgroup);
    // Where prompts run one thread per query (CPU-backed adapters), decode runs a KV head's query
    // heads per subgroup where the subgroups fit, else one thread per query head, and split, into
    // the same partials; the subgroup form also does the rope pass's work in one-token passes
    // where the heads carry no q/k norms (`DecodeRope`), the rope pass then running in longer
    // passes alone (docs/performance.md).
    const perQuery = this.g.prefill.attention === 'per-query';
    const split = attentionSplit(this.g.contextTokens);
    const lanes = perQuery ? this.attentionLanes() : undefined;
    const decodeRope =
      vector('attn_q_norm') === undefined && vector('attn_k_norm') === undefined
        ? { pairs: noRope ? 0 : h.ropeDims / 2, neox: h.ropePairing === 'neox' }
        : undefined;
    const ropeDecode =
      lanes && decodeRope && subgroupDecodeAttentionKernel(h, window, split, lanes, decodeRope);
    const groupDecode =
      ropeDecode ?? (lanes && subgroupDecodeAttentionKernel(h, window, split, lanes));
    const decodeAttention = await this.g.cache.get(
      groupDecode ?? (perQuery ? queryAttentionKernel(h, window, split) : attention.split),
    );
    const ropeTable = this.buf(sliding ? 'rope.local' : 'rope');
    const splitsFor = (ntok: number, pos0: number) =>
      Math.ceil((pos0 + ntok) / attention.splitPositions);
    const postNorms = this.spec.postNorms;
    // With post-norms a product lands in `proj` and a norm-add kernel adds it to the residual.
    const residual = async (
      name: string,
      input: string,
      inputLength: number,
      postNorm: string,
      quantized = false,
    ): Promise<Dispatch[]> => {
      const w = names(name);
      const product = await this.products.matmul(
        {
          precision,
          inputLength,
          inputStride: inputLength,
          outputStride: h.embeddingLength,
          mode: postNorms ? 'plain' : 'residual',
          segments: segments(group, w, false),
        },
        `${p}${name}`,
        {
          x: this.buf(input),
          vecs,
          y: this.buf(postNorms ? 'proj' : 'hidden'),
          weights: weightSlices(buffer, group, w),
          weightBytes: bytes(name),
        },
        quantized,
      );
      if (!postNorms) return product;
      const norm = vector(postNorm);
      if (norm === undefined) throw new Error(`tensor ${p}${postNorm}.weight is missing`);
      const kernel = await this.g.cache.get(normAddKernel(h, norm), 'norm-add');
      return [
        ...product,
        fixedDispatch(
          this.g,
          kernel,
          [this.buf('step'), this.buf('proj'), vecs, this.buf('hidden')],
          1,
          `${p}${postNorm}`,
        ),
      ];
    };
    const fused = this.spec.fusedGateUp;
    const gateUp = names(...(fused ? ['ffn_up'] : ['ffn_gate', 'ffn_up']));
    // A fused tensor is bound once per segment.
    const gateUpWeights = fused
      ? [...weightSlices(buffer, group, gateUp), ...weightSlices(buffer, group, gateUp)]
      : weightSlices(buffer, group, gateUp);
    const qkvSegments = segments(group, qkv, true);
    const gateUpSegments = fused
      ? fusedGateUp(group, gateUp[0], h.feedForwardLength)
      : segments(group, gateUp, false);
    // Where a product reads 8-bit inputs, the pass before it writes them: the norms, and the
    // attention reduce of a one-token pass (prompts' attention kernels write f32 values, which
    // the quantize pass then reads).
    const attnNorm = await this.rmsNorm(vector('attn_norm'), vecs, `${p}attn_norm`, {
      quantize: this.products.takesQ8_0(qkvSegments),
    });
    const ffnNorm = await this.rmsNorm(vector('ffn_norm'), vecs, `${p}ffn_norm`, {
      quantize: this.products.takesQ8_0(gateUpSegments),
    });
    const attnOutputLength = h.headCount * h.valueLength;
    const reduceQ8 =
      this.products.takesQ8_0(segments(group, names('attn_output'), false)) && attention.reduceQ8
        ? await this.g.cache.get(attention.reduceQ8)
        : undefined;
    const splitPrefill = this.g.prefill.attention === 'split';
    const reducePrefill = async (): Promise<Dispatch | null | undefined> => {
      // The split kernels' reduce runs over the pass; the others write the output normalised.
      if (splitPrefill) return undefined;
      if (!reduceQ8) return null;
      const x = this.buf('attention');
      const quantize = { inputLength: attnOutputLength, inputStride: attnOutputLength };
      return this.products.quantizePass(quantize, x, `${p}attn_output`);
    };
    return [
      ...attnNorm.dispatches,
      ...(await this.products.matmul(
        {
          precision,
          inputLength: h.embeddingLength,
          inputStride: h.embeddingLength,
          outputStride: qkvWidth(h),
          mode: 'plain',
          segments: qkvSegments,
        },
        `${p}qkv`,
        {
          x: attnNorm.input,
          vecs,
          y: this.buf('qkv'),
          weights: weightSlices(buffer, group, qkv),
          weightBytes: bytes(...qkvParts) + group.vectorBytes,
        },
        attnNorm.quantized,
      )),
      {
        ...fixedDispatch(
          this.g,
          rope,
          [this.buf('step'), this.buf('qkv'), vecs, ropeTable, kSlice, vSlice],
          h.headCount + 2 * h.headCountKv,
          `${p}rope`,
        ),
        decode: ropeDecode ? null : undefined,
      },
      {
        ...fixedDispatch(
          this.g,
          decodeAttention,
          [
            this.buf('step'),
            this.buf('qkv'),
            kSlice,
            vSlice,
            this.buf('attention.partials'),
            ...(ropeDecode ? [ropeTable] : []),
          ],
          h.headCountKv,
          `${p}attention`,
        ),
        grid: (ntok, pos0) => {
          const splits = splitsFor(ntok, pos0);
          if (groupDecode) return subgroupDecodeWorkgroups(h, ntok, splits);
          if (perQuery) return querySplitWorkgroups(h, ntok, splits);
          return [h.headCountKv * splits, ntok, 1];
        },
        prefill: await this.prefillAttention(i, kSlice, vSlice),
      },
      {
        ...fixedDispatch(
          this.g,
          reduceQ8 ?? (await this.g.cache.get(attention.reduce)),
          [
            this.buf('step'),
            this.buf('attention.partials'),
            this.buf(reduceQ8 ? 'input.q8' : 'attention'),
          ],
          h.headCount,
          `${p}attention.reduce`,
        ),
        prefill: await reducePrefill(),
      },
      ...(await residual(
        'attn_output',
        'attention',
        attnOutputLength,
        'post_attention_norm',
        reduceQ8 !== undefined,
      )),
      ...ffnNorm.dispatches,
      ...(await this.products.matmul(
        {
          precision,
          inputLength: h.embeddingLength,
          inputStride: h.embeddingLength,
          outputStride: h.feedForwardLength,
          mode: this.spec.activation === 'gelu-tanh' ? 'geglu' : 'swiglu',
          segments: gateUpSegments,
        },
        `${p}ffn_gate_up`,
        {
          x: ffnNorm.input,
          vecs,
          y: this.buf('ffn'),
          weights: gateUpWeights,
          weightBytes: bytes(...(fused ? ['ffn_up'] : ['ffn_gate', 'ffn_up'])),
        },
        ffnNorm.quantized,
      )),
      ...(await residual('ffn_down', 'ffn', h.feedForwardLength, 'post_ffw_norm')),
    ];
  }

  async embed(): Promise<Dispatch> {
    const embd = this.g.embedding.matrices.get('token_embd.weight')!;
    const parts = weightParts(embd);
    const kernel = await this.g.cache.get(
      embedKernel(
        this.g.computePrecision,
        parts,
        this.h.embeddingLength,
        embd.rows,
        this.spec.embeddingScale === 'sqrt' ? Math.sqrt(this.h.embeddingLength) : 1,
      ),
      'embed',
    );
    return {
      kernel,
      bindGroup: this.g.cache.bindGroup(kernel, [
        this.buf('step'),
        this.buf('tokens'),
        this.buf('hidden'),
        ...weightSlices(this.g.embeddingBuffer!, this.g.embedding, ['token_embd.weight']),
      ]),
      workgroups: [0, 1, 1],
      weightBytes: embd.rowBytes,
      label: 'embed',
    };
  }

  async head(slot: number): Promise<SamplingHead> {
    const { head, embedding } = this.g;
    const tied = !head.matrices.has('output.weight');
    const outGroup = tied ? embedding : head;
    const outName = tied ? 'token_embd.weight' : 'output.weight';
    const outBuffer = tied ? this.g.embeddingBuffer! : this.g.headBuffer!;
    const out = outputMatrix(head, embedding);
    const headVecs = { buffer: this.g.headBuffer!, offset: 0, size: head.vectorBytes };
    const outSegments = segments(outGroup, [outName], false);
    const norm = await this.rmsNorm(
      head.vectors.get('output_norm.weight')?.index,
      headVecs,
      'output_norm',
      { lastToken: true, quantize: this.products.takesQ8_0(outSegments) },
    );
    const logits = this.buf(`logits.${slot}`);
    const [first, ...rest] = await this.products.matmul(
      {
        precision: this.g.computePrecision,
        inputLength: this.h.embeddingLength,
        inputStride: this.h.embeddingLength,
        outputStride: out.rows,
        mode: 'plain',
        segments: outSegments,
        softCap: this.h.finalSoftCap,
        lastTokenOnly: true,
      },
      'output',
      {
        x: norm.input,
        vecs: headVecs,
        y: logits,
        weights: weightSlices(outBuffer, outGroup, [outName]),
        weightBytes: matrixBytes(out) + head.vectorBytes,
      },
      norm.quantized,
    );
    const product = rest.length ? rest[0] : first;
    // The output layer reads the pass's last token alone: its one-token kernel serves every pass.
    const output = product.decode!;
    const sampler = async (greedy: boolean): Promise<Dispatch[]> => {
      const dispatches: Dispatch[] = [];
      for (const stage of sampleStages(out.rows, greedy)) {
        const kernel = await this.g.cache.get(stage.variant);
        dispatches.push({
          kernel,
          bindGroup: this.g.cache.bindGroup(kernel, [
            this.buf('sampling'),
            logits,
            this.buf('history'),
            this.buf('sampling.work'),
            this.buf('sampling.partials'),
            this.buf('result'),
          ]),
          workgroups: [stage.workgroups, 1, 1],
          weightBytes: 0,
          label: 'sample',
        });
      }
      return dispatches;
    };
    const top = await this.g.cache.get(topLogitsKernel(out.rows), 'top-logits');
    const topLogits: Dispatch = {
      kernel: top,
      bindGroup: this.g.cache.bindGroup(top, [this.buf('sampling'), logits, this.buf('result')]),
      workgroups: [1, 1, 1],
      weightBytes: 0,
      label: 'top-logits',
    };
    return {
      outputNorm: norm.dispatches[0],
      outputInput: rest.length ? first : undefined,
      output,
      sample: await sampler(false),
      greedySample: await sampler(true),
      topLogits,
    };
  }
}

/** One layer's dispatches alone (the load-time autotune times them). */
export function buildLayer(inputs: GraphInputs, layer: number): Promise<Dispatch[]> {
  return new GraphBuilder(inputs).layer(layer);
}

export async function buildGraph(inputs: GraphInputs): Promise<Graph> {
  const architecture = inputs.hparams.architecture;
  const missing = unsupportedFeatures(ARCHITECTURES[architecture]);
  if (missing.length) {
    throw new Error(
      `The ${architecture} entry needs ${missing.join(', ')}, which the graph builder does not carry out.`,
    );
  }
  const builder = new GraphBuilder(inputs);
  const graph: Graph = { layers: [] };
  for (let i = inputs.placement.first; i <= inputs.placement.last; i++) {
    graph.layers.push(await builder.layer(i));
  }
  if (inputs.placement.holdsEmbedding) graph.embed = await builder.embed();
  if (inputs.placement.holdsOutput) {
    graph.heads = [];
    for (let slot = 0; slot < SAMPLED_RING; slot++) graph.heads.push(await builder.head(slot));
  }
  return graph;
}
