// The forward pass of an encoder (the BERT family, `ArchitectureSpec.encoder`) as a list of
// dispatches over a pass of packed sequences: the token embedding, then LayerNorm of it plus the
// position and token-type rows; per layer the q/k/v product (with biases), attention within each
// sequence (RoPE applied inside for nomic-bert), the output projection, LayerNorm(x + attention),
// the FFN (GELU after the up product, or SwiGLU), the down projection, and LayerNorm(x + FFN).
// The matrix products are the engine's matmul kernel; no KV cache, no output layer.
import { ARCHITECTURES, type ArchitectureSpec } from './architectures';
import type { ComputePrecision } from './buffer-plan';
import { matrixBytes, segments, weightSlices, type Dispatch } from './graph-parts';
import { embedKernel } from './kernels/embed';
import { weightParts } from './kernels/dequant';
import { encoderAttentionKernel, geluKernel, layerNormKernel } from './kernels/encoder';
import { matmulKernel, matmulWorkgroups, type MatmulSpec } from './kernels/matmul';
import type { BufferSlice, Kernel, PipelineCache } from './kernels/pipeline';
import type { GroupLayout } from './layout';
import type { ModelHparams } from './types';

export interface EncoderGraphInputs {
  device: GPUDevice;
  cache: PipelineCache;
  hparams: ModelHparams;
  computePrecision: ComputePrecision;
  lanesPerRow?: number;
  /** Tokens one pass carries at most, and the longest sequence. */
  contextTokens: number;
  layers: GroupLayout[];
  head: GroupLayout;
  embedding: GroupLayout;
  layerBuffers: GPUBuffer[];
  headBuffer: GPUBuffer;
  embeddingBuffer: GPUBuffer;
  /** The encoder's scratch buffers by name (`encoderBuffers`). */
  scratch: ReadonlyMap<string, GPUBuffer>;
}

export interface EncoderGraph {
  /** The token embedding, then the embedding LayerNorm. */
  embed: Dispatch[];
  layers: Dispatch[][];
}

class EncoderGraphBuilder {
  private readonly h: ModelHparams;
  private readonly spec: ArchitectureSpec;

  constructor(private readonly g: EncoderGraphInputs) {
    this.h = g.hparams;
    this.spec = ARCHITECTURES[g.hparams.architecture];
  }

  private buf(name: string): BufferSlice {
    const buffer = this.g.scratch.get(name);
    if (!buffer) throw new Error(`the encoder has no ${name} buffer`);
    return { buffer };
  }

  /** One workgroup per token (along y) and `groups` along x. */
  private perToken(kernel: Kernel, slices: BufferSlice[], groups: number, label: string): Dispatch {
    return {
      kernel,
      bindGroup: this.g.cache.bindGroup(kernel, slices, label),
      workgroups: [groups, 1, 1],
      perToken: true,
      weightBytes: 0,
      label,
    };
  }

  private async matmul(
    label: string,
    group: GroupLayout,
    buffer: GPUBuffer,
    names: string[],
    input: string,
    output: string,
    mode: MatmulSpec['mode'],
    biases: boolean,
  ): Promise<Dispatch> {
    const first = group.matrices.get(names[0]);
    if (!first) throw new Error(`tensor ${names[0]} is missing from the model`);
    const segs = segments(group, names, biases);
    const spec: MatmulSpec = {
      precision: this.g.computePrecision,
      inputLength: first.rowLength,
      inputStride: first.rowLength,
      outputStride: mode === 'swiglu' ? segs[0].rows : segs.reduce((a, s) => a + s.rows, 0),
      mode,
      segments: mode === 'swiglu' ? segs.map((s) => ({ ...s, outColumn: 0 })) : segs,
      lanesPerRow: this.g.lanesPerRow,
    };
    const weights = weightSlices(buffer, group, names);
    const limit = this.g.device.limits.maxStorageBuffersPerShaderStage;
    if (3 + weights.length > limit) {
      throw new Error(
        `${label} needs ${3 + weights.length} storage bindings but the device allows ${limit}; ` +
          'use a device with larger storage bindings.',
      );
    }
    const kernel = await this.g.cache.get(matmulKernel(spec), label);
    const vecs = { buffer, offset: 0, size: group.vectorBytes };
    const [wx, wy] = matmulWorkgroups(spec);
    return {
      kernel,
      bindGroup: this.g.cache.bindGroup(
        kernel,
        [this.buf('step'), this.buf(input), vecs, this.buf(output), ...weights],
        label,
      ),
      workgroups: [wx, wy, 1],
      weightBytes: names.reduce((a, n) => a + matrixBytes(group.matrices.get(n)!), 0),
      label,
    };
  }

  /** LayerNorm of `hidden` (after adding `extra`) with the group's `name`.weight and .bias. */
  private async layerNorm(
    group: GroupLayout,
    buffer: GPUBuffer,
    name: string,
    extra: 'token' | 'position',
    label: string,
  ): Promise<Dispatch> {
    const w = group.vectors.get(`${name}.weight`);
    const b = group.vectors.get(`${name}.bias`);
    if (!w || !b) throw new Error(`tensors ${name}.weight and ${name}.bias are missing`);
    const kernel = await this.g.cache.get(layerNormKernel(this.h, w.index, b.index, extra), label);
    const vecs = { buffer, offset: 0, size: group.vectorBytes };
    const slices =
      extra === 'position'
        ? [this.buf('step'), this.buf('hidden'), vecs, this.buf('positions'), this.buf('spans')]
        : [this.buf('step'), this.buf('hidden'), vecs, this.buf('proj')];
    return this.perToken(kernel, slices, 1, label);
  }

  async embed(): Promise<Dispatch[]> {
    const embd = this.g.embedding.matrices.get('token_embd.weight')!;
    const parts = weightParts(embd);
    const kernel = await this.g.cache.get(
      embedKernel(this.g.computePrecision, parts, this.h.embeddingLength, embd.rows),
      'embed',
    );
    const lookup: Dispatch = {
      kernel,
      bindGroup: this.g.cache.bindGroup(kernel, [
        this.buf('step'),
        this.buf('tokens'),
        this.buf('hidden'),
        ...weightSlices(this.g.embeddingBuffer, this.g.embedding, ['token_embd.weight']),
      ]),
      // One workgroup per token along x, as the decoder's embedding.
      workgroups: [0, 1, 1],
      weightBytes: embd.rowBytes,
      label: 'embed',
    };
    const norm = await this.layerNorm(
      this.g.head,
      this.g.headBuffer,
      'token_embd_norm',
      'position',
      'token_embd_norm',
    );
    return [lookup, norm];
  }

  async layer(i: number): Promise<Dispatch[]> {
    const h = this.h;
    const group = this.g.layers[i];
    const buffer = this.g.layerBuffers[i];
    const p = `blk.${i}.`;
    const names = (...n: string[]) => n.map((x) => `${p}${x}.weight`);
    const qkv = names(...(this.spec.fusedQkv ? ['attn_qkv'] : ['attn_q', 'attn_k', 'attn_v']));
    const ffnBiases = this.spec.encoder?.ffnBiases ?? false;
    const rope = this.spec.encoder?.positions === 'rope';
    const attention = await this.g.cache.get(
      encoderAttentionKernel(h, this.g.contextTokens, rope),
      'encoder-attention',
    );
    const attentionSlices = [
      this.buf('step'),
      this.buf('qkv'),
      this.buf('spans'),
      this.buf('attention'),
      ...(rope ? [this.buf('rope')] : []),
    ];
    const ffn: Dispatch[] = this.spec.gatedFfn
      ? [
          await this.matmul(
            `${p}ffn_gate_up`,
            group,
            buffer,
            names('ffn_gate', 'ffn_up'),
            'hidden',
            'ffn',
            'swiglu',
            false,
          ),
        ]
      : [
          await this.matmul(
            `${p}ffn_up`,
            group,
            buffer,
            names('ffn_up'),
            'hidden',
            'ffn',
            'plain',
            ffnBiases,
          ),
          this.perToken(
            await this.g.cache.get(geluKernel(h), 'gelu'),
            [this.buf('step'), this.buf('ffn')],
            1,
            `${p}gelu`,
          ),
        ];
    return [
      await this.matmul(`${p}qkv`, group, buffer, qkv, 'hidden', 'qkv', 'plain', true),
      this.perToken(attention, attentionSlices, h.headCount, `${p}attention`),
      await this.matmul(
        `${p}attn_output`,
        group,
        buffer,
        names('attn_output'),
        'attention',
        'proj',
        'plain',
        true,
      ),
      await this.layerNorm(group, buffer, `${p}attn_output_norm`, 'token', `${p}attn_output_norm`),
      ...ffn,
      await this.matmul(
        `${p}ffn_down`,
        group,
        buffer,
        names('ffn_down'),
        'ffn',
        'proj',
        'plain',
        ffnBiases,
      ),
      await this.layerNorm(
        group,
        buffer,
        `${p}layer_output_norm`,
        'token',
        `${p}layer_output_norm`,
      ),
    ];
  }
}

export async function buildEncoderGraph(inputs: EncoderGraphInputs): Promise<EncoderGraph> {
  const builder = new EncoderGraphBuilder(inputs);
  const layers: Dispatch[][] = [];
  for (let i = 0; i < inputs.hparams.blockCount; i++) layers.push(await builder.layer(i));
  return { embed: await builder.embed(), layers };
}
