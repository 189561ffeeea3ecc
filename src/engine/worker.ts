// The engine's module Web Worker: loads a GGUF model from a URL, a picked file or the store, and
// answers the page's requests (messages.ts), so loading and decoding never block the page.
import type { ChatEngine, GenerationStats, LoadProgress } from './engine';
import { blobSource, openUrlSource } from './gguf/source';
import type { ModelSource } from './gguf/types';
import {
  EngineError,
  toEngineFailure,
  type GgufLoadOptions,
  type GgufSourceRef,
  type WorkerRequest,
  type WorkerResponse,
} from './messages';
import { GgufEngine } from './gguf/engine';
import { checkSupported, parseHeader } from './gguf/header';
import { textCodec } from './gguf/text-codec';
import { NO_MARGIN, planModel, withUserBudget } from '../plan';
import { browserEnvironment, openProbedDevice } from '../gpu/probe';
import { describeEngineDevice } from './device-description';
import type { EngineDevice } from '../gpu/device';
import { ModelStore } from '../store/model-store';
import { StoreModelSource } from '../store/model-source';

export interface HostedEngine {
  engine: ChatEngine;
  /** Settles if the GPU device is lost; the engine is unusable from then on. */
  lost?: Promise<{ reason: string; message: string }>;
}

export type GgufEngineLoader = (
  source: ModelSource,
  options: GgufLoadOptions,
  onProgress: (progress: LoadProgress) => void,
  signal: AbortSignal,
) => Promise<HostedEngine>;

/** Loads onto the CPU engine (llama.cpp in WebAssembly), which reads the model from a Blob. */
export type CpuEngineLoader = (
  ref: GgufSourceRef,
  source: ModelSource,
  options: GgufLoadOptions,
  onProgress: (progress: LoadProgress) => void,
  signal: AbortSignal,
) => Promise<ChatEngine>;

/** The CPU engine's code (and its WebAssembly) is fetched only when a model runs on it. */
const loadCpuEngine: CpuEngineLoader = async (...args) =>
  (await import('./wllama/load')).loadWllamaEngine(...args);

export interface WorkerScopeLike {
  postMessage(message: WorkerResponse): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<WorkerRequest>) => void): void;
}

export async function openSource(ref: GgufSourceRef): Promise<ModelSource> {
  switch (ref.type) {
    case 'url':
      return openUrlSource(ref.url);
    case 'file':
      return blobSource(ref.file, ref.name);
    case 'store':
      return StoreModelSource.open(new ModelStore(), ref.modelId);
  }
}

const READ_STAGE = { url: 'download', store: 'cache', file: 'upload' } as const;

/**
 * The engine reports bytes read from the source and written to the GPU as one count; what limits
 * that stage is where the bytes come from (the network, IndexedDB, a local file). Once every byte
 * is on the GPU, what remains is building the shader pipelines.
 */
export function stageFor(ref: GgufSourceRef, progress: LoadProgress): LoadProgress {
  if (progress.stage !== 'upload') return progress;
  if (progress.total > 0 && progress.loaded >= progress.total) {
    return { stage: 'compile', loaded: 0, total: 1 };
  }
  return { ...progress, stage: READ_STAGE[ref.type] };
}

/** Answers the page's requests with one engine at a time. */
export function serveEngine(
  scope: WorkerScopeLike,
  loadGguf: GgufEngineLoader,
  open: (ref: GgufSourceRef) => Promise<ModelSource> = openSource,
  loadCpu: CpuEngineLoader = loadCpuEngine,
): void {
  let engine: ChatEngine | null = null;
  let deviceLost: EngineError | null = null;
  let loading: AbortController | null = null;
  const chats = new Map<number, AbortController>();
  const post = (message: WorkerResponse) => scope.postMessage(message);
  const fail = (id: number, error: unknown) =>
    post({ type: 'error', id, error: toEngineFailure(error) });
  const loaded = (): ChatEngine => {
    if (deviceLost) throw deviceLost;
    if (!engine) throw new EngineError('not-loaded', 'No model is loaded: choose one first.');
    return engine;
  };

  async function load(id: number, ref: GgufSourceRef, options: GgufLoadOptions): Promise<void> {
    loading?.abort();
    const controller = new AbortController();
    loading = controller;
    const previous = engine;
    engine = null;
    await previous?.unload();
    deviceLost = null;
    const source = await open(ref);
    const onProgress = (progress: LoadProgress) =>
      post({ type: 'progress', id, progress: stageFor(ref, progress) });
    const hosted: HostedEngine =
      options.engine === 'cpu'
        ? { engine: await loadCpu(ref, source, options, onProgress, controller.signal) }
        : await loadGguf(source, options, onProgress, controller.signal);
    const next = hosted.engine;
    if (controller.signal.aborted) {
      await next.unload();
      throw new EngineError('aborted', 'Loading was cancelled.');
    }
    engine = next;
    hosted.lost?.then((loss) => {
      if (engine !== next || loss.reason === 'destroyed') return;
      engine = null;
      const failure = toEngineFailure(`GPU device lost: ${loss.message || loss.reason}`);
      deviceLost = new EngineError(failure.kind, failure.message);
      for (const controller of chats.values()) controller.abort();
    });
    post({
      type: 'loaded',
      id,
      model: {
        kind: next.kind === 'wllama' ? 'wllama' : 'gguf',
        name: source.name,
        contextTokens: next.contextTokens,
        ...('threads' in next && typeof next.threads === 'number' ? { threads: next.threads } : {}),
      },
    });
  }

  async function chat(id: number, request: Extract<WorkerRequest, { type: 'chat' }>) {
    const controller = new AbortController();
    chats.set(id, controller);
    let generated = 0;
    try {
      const events = loaded().chat(request.messages, {
        ...request.options,
        signal: controller.signal,
      });
      for await (const event of events) {
        if (event.type === 'token') {
          if (event.id >= 0) generated += 1;
          post({ type: 'token', id, token: event });
        } else {
          post({ type: 'done', id, stats: event.stats });
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
      // An engine may end an interrupted run by throwing; the page still gets the partial count.
      const stats: GenerationStats = {
        promptTokens: 0,
        generatedTokens: generated,
        prefillTokensPerSecond: 0,
        decodeTokensPerSecond: 0,
        stopReason: 'aborted',
      };
      post({ type: 'done', id, stats });
    } finally {
      chats.delete(id);
    }
  }

  async function handle(request: WorkerRequest): Promise<void> {
    switch (request.type) {
      case 'load':
        return load(request.id, request.source, request.options);
      case 'chat':
        return chat(request.id, request);
      case 'stop':
        chats.get(request.target)?.abort();
        return;
      case 'countTokens':
        post({
          type: 'count',
          id: request.id,
          tokens: await loaded().countChatTokens(request.messages),
        });
        return;
      case 'unload': {
        const current = engine;
        engine = null;
        for (const controller of chats.values()) controller.abort();
        await current?.unload();
        post({ type: 'unloaded', id: request.id });
        return;
      }
    }
  }

  scope.addEventListener('message', (event) => {
    handle(event.data).catch((error: unknown) => fail(event.data.id, error));
  });
}

const PRECISION = { auto: 'auto', on: 'f16', off: 'f32' } as const;

/**
 * Loads onto `device`. With the plan's resident layers, INT8 weights or a budget to retry within,
 * the planner lays the model out and the engine carries that plan out; otherwise everything stays
 * on the GPU. A plan the GPU refuses is reported with the error, so the app can retry with less.
 */
async function loadOnDevice(
  device: EngineDevice,
  source: ModelSource,
  options: GgufLoadOptions,
  onProgress: (progress: LoadProgress) => void,
  signal: AbortSignal,
): Promise<ChatEngine> {
  const common = { codec: textCodec, signal, onProgress };
  const planned =
    options.residentLayers !== undefined ||
    options.weights === 'q8_0' ||
    options.budgetBytes !== undefined;
  if (!planned) {
    return GgufEngine.load(device, source, {
      ...common,
      contextTokens: options.contextTokens,
      precision: PRECISION[options.f16],
    });
  }
  const header = await parseHeader(source);
  checkSupported(header);
  const retry = options.budgetBytes !== undefined;
  const described = describeEngineDevice(device);
  const plan = planModel(
    header,
    [retry ? withUserBudget(described, options.budgetBytes!) : described],
    {
      contextTokens: options.contextTokens,
      contextFloor: options.contextTokens,
      compute: PRECISION[options.f16],
      weights: options.weights ?? 'file',
      ...(retry ? { margin: NO_MARGIN } : { residentLayers: options.residentLayers }),
    },
  );
  if (plan.fits === 'none') {
    throw new EngineError(
      'out-of-memory',
      `This model will not run here: ${plan.reasons.join(' ')}`,
    );
  }
  try {
    return await GgufEngine.loadPlanned([device], source, header, plan, common);
  } catch (error) {
    const failure = toEngineFailure(error);
    if (failure.kind !== 'out-of-memory' && failure.kind !== 'device-lost') throw error;
    const failed = {
      gpuBytes: plan.bytes.gpu.total,
      residentLayers: plan.layers.resident,
      totalLayers: plan.layers.total,
      contextTokens: plan.contextTokens,
    };
    throw new EngineError(
      failure.kind,
      `${failure.message} The plan that failed: ${failed.residentLayers} of ${failed.totalLayers} layers on the GPU, a context of ${failed.contextTokens} tokens, ${Math.round(failed.gpuBytes / 2 ** 20)} MiB of GPU memory.`,
      failed,
    );
  }
}

/** Opens this worker's own GPU device and loads the model onto it. */
async function loadGgufEngine(
  source: ModelSource,
  options: GgufLoadOptions,
  onProgress: (progress: LoadProgress) => void,
  signal: AbortSignal,
): Promise<HostedEngine> {
  const gpu = browserEnvironment().gpu;
  if (!gpu) throw new EngineError('no-webgpu', toEngineFailure('WebGPU is not available').message);
  const device = await openProbedDevice(gpu, 'high-performance', {
    disableF16: options.f16 === 'off',
    label: 'layerwise-engine',
  });
  try {
    const engine = await loadOnDevice(device, source, options, onProgress, signal);
    return { engine, lost: device.lost };
  } catch (error) {
    device.device.destroy();
    throw error;
  }
}

if (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope) {
  serveEngine(self as unknown as WorkerScopeLike, loadGgufEngine);
}
