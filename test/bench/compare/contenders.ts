// The contenders of `npm run bench:compare` behind one interface: load a model once, then run a
// prompt of token ids and decode a number of tokens as often as asked, each run from an empty
// cache, reporting prefill and decode tokens per second as measured on this side (wllama's from
// llama.cpp's own timings, as the page cannot see inside its worker).
import {
  getLlama,
  LlamaLogLevel,
  type Llama,
  type LlamaContextSequence,
  type Token,
} from 'node-llama-cpp';
import { GREEDY } from '../../../src/engine/engine.ts';
import type { GgufEngine } from '../../../src/engine/gguf/engine.ts';
import { decodeTensors } from '../../../src/engine/gguf/model.ts';
import type { TensorInfo } from '../../../src/engine/gguf/types.ts';
import { openFileSource, type FileModelSource } from '../../../src/engine/gguf/source-node.ts';
import { loadPlannedCliEngine } from '../../../src/cli/planned-cli.ts';
import type { ContenderSpec } from './options.ts';
import { profileDispatches, recordDevice, type KernelProfile } from './profile.ts';
import type { EngineStructure } from './stats.ts';
import type { WllamaPage } from './wllama.ts';
import type { BenchPrompt } from './prompts.ts';

export interface RunRates {
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

export interface Contender {
  readonly id: string;
  /** The device or library, as it names itself. */
  description: string;
  /** Threads whose memory bandwidth bounds it (every core for our engine on a CPU adapter). */
  readonly threads: number;
  run(prompt: BenchPrompt, decode: number): Promise<RunRates>;
  unload(): Promise<void>;
}

/** Bytes of weights a decode token needs: every tensor but an untied embedding, plus its row. */
export function decodeWeightBytes(tensors: TensorInfo[]): number {
  const embedding = tensors.find((t) => t.name === 'token_embd.weight');
  const tied = !tensors.some((t) => t.name === 'output.weight');
  const row = embedding && !tied ? embedding.bytes / embedding.dims[1] : 0;
  return decodeTensors(tensors).reduce((a, t) => a + t.bytes, 0) + row;
}

/** SwiftShader, llvmpipe and other adapters that run shaders on the CPU. */
function isCpuBacked(info: GPUAdapterInfo): boolean {
  const name = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  return (
    (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
    /swiftshader|llvmpipe|lavapipe|software/i.test(name)
  );
}

export interface EngineDetails {
  structure: EngineStructure;
  profile?: KernelProfile;
  /** What the engine runs on this adapter. */
  variant: string;
}

export class EngineContender implements Contender {
  description = '';
  /** The adapter runs on the CPU (SwiftShader, llvmpipe): its bound is the CPU's bandwidth. */
  cpuBacked = true;
  private constructor(
    readonly id: string,
    readonly threads: number,
    private readonly engine: GgufEngine,
    private readonly source: FileModelSource,
  ) {}

  static async load(
    spec: Extract<ContenderSpec, { kind: 'engine' }>,
    path: string,
    contextTokens: number,
    cores: number,
  ): Promise<EngineContender> {
    const source = await openFileSource(path);
    const values: Record<string, string> = {
      f16: spec.precision === 'f16' ? 'on' : 'off',
      context: String(contextTokens),
    };
    if (spec.adapter !== 'gpu') values.adapter = spec.adapter;
    const { engine, devices } = await loadPlannedCliEngine(source, { flags: new Set(), values });
    const info = devices[0].adapterInfo;
    const name = `${info.vendor} ${info.architecture} ${info.device || info.description}`.trim();
    const software = isCpuBacked(info);
    const contender = new EngineContender(spec.id, software ? cores : 1, engine, source);
    // Dawn's default adapter may be a CPU-backed one (no card driver found): say so.
    const cpuBacked = spec.adapter === 'gpu' && software ? ' (CPU-backed, not a GPU)' : '';
    contender.description = `our engine, dawn.node on ${name}${cpuBacked}, ${engine.precision}`;
    contender.cpuBacked = software;
    return contender;
  }

  private async generate(prompt: number[], tokens: number): Promise<void> {
    for await (const token of this.engine.generateTokens(prompt, {
      maxTokens: tokens,
      sampling: GREEDY,
    })) {
      void token;
    }
  }

  get gpuDevice(): GPUDevice {
    return this.engine.device.device;
  }

  /** Some drivers (lavapipe) compile each pipeline at its first dispatch: one untimed run. */
  async warmUp(prompt: number[]): Promise<void> {
    this.engine.resetCache();
    await this.generate(prompt, 3);
  }

  async run(prompt: BenchPrompt, decode: number): Promise<RunRates> {
    this.engine.resetCache();
    // The first generated token comes from the prefill pass; `decode` more are decode passes.
    await this.generate(prompt.ids, decode + 1);
    const stats = this.engine.lastStats!;
    return {
      prefillTokensPerSecond: stats.prefillTokensPerSecond,
      decodeTokensPerSecond: stats.decodeTokensPerSecond,
    };
  }

  /**
   * Submissions per decode token (counted at the queue over `decode` tokens after `prompt`), the
   * weight bytes a decode token reads against the model's, and optionally the per-kernel profile
   * of the decode token after `prompt`.
   */
  async details(prompt: number[], decode: number, profile: boolean): Promise<EngineDetails> {
    const device = this.engine.device.device;
    this.engine.resetCache();
    await this.generate(prompt, 1);
    // With the prompt cached, the engine runs only its last token again: one decode-shaped pass
    // (the one profiled), then with `decode` more tokens, `decode` decode passes.
    const onePass = await recordDevice(device, () => this.generate(prompt, 1));
    const withDecode = await recordDevice(device, () => this.generate(prompt, decode + 1));
    const stats = this.engine.lastStats!;
    const structure: EngineStructure = {
      weightBytesPerToken: stats.weightBytesPerToken,
      modelDecodeBytes: decodeWeightBytes(this.engine.header.tensors),
      submissionsPerToken: (withDecode.submissions - onePass.submissions) / decode,
    };
    const variant = `${this.engine.precision} compute, kernel variants: ${this.engine.kernelVariants}`;
    if (!profile) return { structure, variant };
    return { structure, variant, profile: await profileDispatches(device, onePass.dispatches) };
  }

  async unload(): Promise<void> {
    await this.engine.unload();
    await this.source.close();
  }
}

let llama: Promise<Llama> | undefined;

export class LlamaCppContender implements Contender {
  readonly description: string;
  private constructor(
    readonly id: string,
    readonly threads: number,
    private readonly dispose: () => Promise<void>,
    private readonly sequence: LlamaContextSequence,
  ) {
    this.description = `llama.cpp (node-llama-cpp 3.21.1), CPU, ${threads} thread(s)`;
  }

  static async load(
    spec: Extract<ContenderSpec, { kind: 'llama.cpp' }>,
    path: string,
    contextTokens: number,
  ): Promise<LlamaCppContender> {
    llama ??= getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    const model = await (await llama).loadModel({ modelPath: path, gpuLayers: 0 });
    const context = await model.createContext({
      contextSize: contextTokens,
      sequences: 1,
      threads: spec.threads,
      batchSize: 512,
    });
    return new LlamaCppContender(
      spec.id,
      spec.threads,
      async () => {
        await context.dispose();
        await model.dispose();
      },
      context.getSequence(),
    );
  }

  async run({ ids: prompt }: BenchPrompt, decode: number): Promise<RunRates> {
    await this.sequence.clearHistory();
    const start = performance.now();
    await this.sequence.evaluateWithoutGeneratingNewTokens(prompt as Token[]);
    const prefillMs = performance.now() - start;
    // Each step evaluates one token and samples the next, which is fed back.
    const decodeStart = performance.now();
    let steps = 0;
    for await (const token of this.sequence.evaluate([prompt[prompt.length - 1] as Token], {
      temperature: 0,
    })) {
      void token;
      if (++steps >= decode) break;
    }
    const decodeMs = performance.now() - decodeStart;
    return {
      prefillTokensPerSecond: prompt.length / (prefillMs / 1000),
      decodeTokensPerSecond: steps / (decodeMs / 1000),
    };
  }

  unload(): Promise<void> {
    return this.dispose();
  }
}

export class WllamaContender implements Contender {
  readonly description: string;
  constructor(
    readonly id: string,
    readonly threads: number,
    private readonly page: WllamaPage,
  ) {
    this.description = `wllama 3.8.1 (llama.cpp in WebAssembly), headless Chromium, ${threads} thread(s)`;
  }

  run(prompt: BenchPrompt, decode: number): Promise<RunRates> {
    return this.page.run(this.id, prompt.text, prompt.ids.length, decode);
  }

  unload(): Promise<void> {
    return this.page.unload(this.id);
  }
}
