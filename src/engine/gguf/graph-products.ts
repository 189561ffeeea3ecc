// The forward pass's matrix products (graph.ts builds the rest): each product's matrix-vector
// kernels for one and for four tokens, the GEMM that runs it in passes of several tokens, and with
// 8-bit inputs the pass quantizing its input where the pass before it does not write that itself.
import {
  DEFAULT_LANES_PER_ROW,
  defaultDecodeVariant,
  subgroupLanesFit,
  matmulKernel,
  matmulWorkgroups,
  type MatmulSegment,
  type MatmulSpec,
} from './kernels/matmul';
import { gemmKernel, gemmWorkgroups } from './kernels/gemm';
import {
  quantizeInputKernel,
  quantizeInputWorkgroups,
  type InputFormat,
} from './kernels/quantize-input';
import { q8InputFormat } from './kernels/dequant';
import type { BufferSlice } from './kernels/pipeline';
import { deviceSubgroups } from '../../gpu/probe';
import { fixedDispatch, scratchSlice, type Dispatch, type GraphInputs } from './graph-parts';

/** What a matrix product binds: its input, vector region, output and weights. */
export interface ProductIo {
  x: BufferSlice;
  vecs: BufferSlice;
  y: BufferSlice;
  weights: BufferSlice[];
  /** Weight bytes the product reads (decode accounting). */
  weightBytes: number;
}

export class ProductBuilder {
  constructor(private readonly g: GraphInputs) {}

  /** The format of the 8-bit input a product over these segments reads; none: it reads f32. */
  inputFormat(segments: MatmulSegment[]): InputFormat | undefined {
    if (!this.g.q8Inputs) return undefined;
    return q8InputFormat(segments.flatMap((s) => s.parts.map((p) => p.type)));
  }

  /**
   * Whether a product over these segments reads its input quantized to Q8_0, which the passes
   * before a product (an RMSNorm, the attention reduce) can write themselves.
   */
  takesQ8_0(segments: MatmulSegment[]): boolean {
    return this.inputFormat(segments) === 'q8_0';
  }

  /**
   * A product and what runs before it: with 8-bit inputs for its weights, the pass quantizing
   * its input (the output layer's: the last token alone), unless `quantized` says the pass
   * before it (an RMSNorm, the attention reduce) writes that input itself into `input.q8`
   * (Q8_0 inputs only: see `takesQ8_0`).
   */
  async matmul(
    spec: MatmulSpec,
    label: string,
    io: ProductIo,
    quantized = false,
  ): Promise<Dispatch[]> {
    const format = this.inputFormat(spec.segments);
    if (!format) return [await this.product(spec, label, io)];
    if (quantized && format !== 'q8_0') {
      throw new Error(`${label}: a pass before it writes Q8_0 inputs, but it reads Q8_K`);
    }
    const xq = scratchSlice(this.g, 'input.q8');
    const product = await this.product({ ...spec, q8Input: true }, label, { ...io, x: xq });
    if (quantized) return [product];
    const quantize = await this.quantizePass(spec, io.x, label, format);
    return [quantize, product];
  }

  /** The pass writing `x` into `input.q8` as the 8-bit input (of `format`) of the product `spec`. */
  async quantizePass(
    spec: Pick<MatmulSpec, 'inputLength' | 'inputStride' | 'lastTokenOnly'>,
    x: BufferSlice,
    label: string,
    format: InputFormat = 'q8_0',
  ): Promise<Dispatch> {
    const lastToken = spec.lastTokenOnly ?? false;
    const kernel = await this.g.cache.get(
      quantizeInputKernel({
        length: spec.inputLength,
        stride: spec.inputStride,
        lastToken,
        format,
      }),
      'quantize-input',
    );
    const quantize = fixedDispatch(
      this.g,
      kernel,
      [scratchSlice(this.g, 'step'), x, scratchSlice(this.g, 'input.q8')],
      quantizeInputWorkgroups(spec.inputLength, format),
      `${label} input`,
    );
    quantize.perToken = !lastToken;
    return quantize;
  }

  private async product(spec: MatmulSpec, label: string, io: ProductIo): Promise<Dispatch> {
    const { x, vecs, y, weights, weightBytes } = io;
    const limit = this.g.device.limits.maxStorageBuffersPerShaderStage;
    const storage = 3 + weights.length;
    if (storage > limit) {
      throw new Error(
        `${label} needs ${storage} storage bindings (its weights are split into ${weights.length} ` +
          `parts) but the device allows ${limit}; ` +
          'raise the binding cap or use a device with larger storage bindings.',
      );
    }
    spec.lanesPerRow = this.g.lanesPerRow;
    spec.roundActivations = this.g.roundActivations;
    const subgroups = deviceSubgroups(this.g.device);
    const decodeVariant =
      this.g.decodeVariant ??
      defaultDecodeVariant(
        { ...this.g.decodeShape, lanesPerRow: spec.lanesPerRow },
        subgroups.enabled,
        subgroups.min,
        // With 8-bit inputs the output layer runs as the layers do: one lane per row decoded
        // 3-8% faster on lavapipe than a subgroup's lanes (docs/performance.md).
        spec.lastTokenOnly && !spec.q8Input,
      );
    // Reduced as the default one-token kernel reduces, so a token's products come out bit for
    // bit the same whether it was decoded or prefilled (a cached second turn equals a fresh one).
    const reduceInSubgroups = subgroupLanesFit(
      spec.lanesPerRow ?? DEFAULT_LANES_PER_ROW,
      subgroups.enabled,
      subgroups.min,
    );
    const slices = [scratchSlice(this.g, 'step'), x, vecs, y, ...weights];
    const matvec = async (variant: MatmulSpec): Promise<Dispatch> => {
      const kernel = await this.g.cache.get(matmulKernel(variant), label);
      const bindGroup = this.g.cache.bindGroup(kernel, slices, label);
      const [wx, wy] = matmulWorkgroups(variant);
      return { kernel, bindGroup, workgroups: [wx, wy, 1], weightBytes, label };
    };
    const decodeSpec: MatmulSpec = { ...spec, ...decodeVariant, tokens: 1 };
    const oneLaneOneRow = decodeSpec.lanesPerRow === 1 && (decodeSpec.rowsPerThread ?? 1) === 1;
    decodeSpec.sharedInput = spec.q8Input && oneLaneOneRow ? this.g.sharedInputs : undefined;
    const product: Dispatch = {
      ...(await matvec({ ...spec, tokens: 4, subgroups: reduceInSubgroups })),
      decode: await matvec(decodeSpec),
    };
    // Activation rounding (but for 8-bit inputs, which carry it) and last-token products stay on
    // the matrix-vector kernel; every other product runs as a GEMM in passes of several tokens.
    const tiles = this.g.prefill.gemm;
    const rounded = spec.roundActivations && !spec.q8Input;
    if (!tiles || rounded || spec.lastTokenOnly) return product;
    const gemm = await this.g.cache.get(gemmKernel(spec, tiles), `${label} (prefill)`);
    product.prefill = {
      kernel: gemm,
      bindGroup: this.g.cache.bindGroup(gemm, slices, `${label} (prefill)`),
      workgroups: [gemmWorkgroups(spec, 1, tiles)[0], 1, 1],
      grid: (ntok) => [...gemmWorkgroups(spec, ntok, tiles), 1],
      weightBytes,
      label: `${label} (prefill)`,
    };
    return product;
  }
}
