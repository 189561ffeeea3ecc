// The engine's module Web Worker: loads a GGUF model from a URL, a picked file or the store on the
// devices the page's plan names, exactly as that plan says, and answers the page's requests
// (messages.ts) one generation at a time, so loading and decoding never block the page.
import type { ChatEngine, GenerationStats, LoadProgress } from './engine';
import { blobSource, openUrlSource } from './gguf/source';
import type { ModelSource } from './gguf/types';
import {
  EngineError,
  toEngineFailure,
  type GgufSourceRef,
  type WorkerRequest,
  type WorkerResponse,
} from './messages';
import { GgufEngine } from './gguf/engine';
import { checkSupported, parseHeader } from './gguf/header';
import type { CarriedOutPlan } from './gguf/planned-load';
import { textCodec } from './gguf/text-codec';
import type { Plan } from '../plan/types';
import { browserEnvironment, openProbedDevice } from '../gpu/probe';
import { adapterDifferences } from './device-description';
import type { DeviceLoss, EngineDevice } from '../gpu/device';
import { ModelStore } from '../store/model-store';
import { StoreModelSource } from '../store/model-source';
import { KernelChoiceStore } from '../store/kernel-choices';

export interface HostedEngine {
  engine: ChatEngine;
  /** Settles if a GPU device is lost; the engine is unusable from then on. */
  lost?: Promise<{ reason: string; message: string }>;
  /** The plan as the engine carried it out, with what each device's allocator counted. */
  carriedOut?: () => CarriedOutPlan;
}

export type GgufEngineLoader = (
  source: ModelSource,
  plan: Plan,
  onProgress: (progress: LoadProgress) => void,
  signal: AbortSignal,
) => Promise<HostedEngine>;

/**
 * Loads onto the CPU engine (llama.cpp in WebAssembly), which reads the model from a Blob, with the
 * plan's context and the threads its engine choice counted on.
 */
export type CpuEngineLoader = (
  ref: GgufSourceRef,
  source: ModelSource,
  plan: Plan,
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

/**
 * Answers the page's requests with one engine at a time, and one generation at a time: a chat
 * request that arrives while another runs waits for it to finish (or be stopped).
 */
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
  let generating: Promise<void> = Promise.resolve();
  const post = (message: WorkerResponse) => scope.postMessage(message);
  const fail = (id: number, error: unknown) =>
    post({ type: 'error', id, error: toEngineFailure(error) });
  const loaded = (): ChatEngine => {
    if (deviceLost) throw deviceLost;
    if (!engine) throw new EngineError('not-loaded', 'No model is loaded: choose one first.');
    return engine;
  };

  async function load(id: number, ref: GgufSourceRef, plan: Plan): Promise<void> {
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
      plan.engine === 'cpu'
        ? { engine: await loadCpu(ref, source, plan, onProgress, controller.signal) }
        : await loadGguf(source, plan, onProgress, controller.signal);
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
        ...(hosted.carriedOut ? { carriedOut: hosted.carriedOut() } : {}),
      },
    });
  }

  function chat(id: number, request: Extract<WorkerRequest, { type: 'chat' }>): Promise<void> {
    const controller = new AbortController();
    chats.set(id, controller);
    const turn = generating.then(() => generate(id, request, controller));
    generating = turn.catch(() => undefined);
    return turn;
  }

  async function generate(
    id: number,
    request: Extract<WorkerRequest, { type: 'chat' }>,
    controller: AbortController,
  ): Promise<void> {
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
        droppedMessages: 0,
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
        return load(request.id, request.source, request.plan);
      case 'chat':
        return chat(request.id, request);
      case 'stop':
        chats.get(request.target)?.abort();
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

/**
 * Opens the devices `plan` names, one per part, each on the adapter its power preference picks,
 * after checking that adapter is the one the plan was made for. A mismatch is reported as a
 * `plan-mismatch` error that says what differs, so the page plans again.
 */
async function openPlannedDevices(gpu: GPU, plan: Plan): Promise<EngineDevice[]> {
  const devices: EngineDevice[] = [];
  try {
    for (const [i, part] of plan.layers.devices.entries()) {
      const request = part.adapter;
      if (!request) {
        throw new EngineError(
          'plan-mismatch',
          `The plan's device ${part.name} names no browser adapter to open: plan the model again on this page.`,
        );
      }
      devices.push(
        await openProbedDevice(gpu, request.powerPreference, {
          disableF16: plan.precision.compute === 'f32',
          label: `layerwise-engine-${i}`,
          accept: (adapter) => {
            const differences = adapterDifferences(part, plan, adapter);
            if (differences.length > 0) {
              throw new EngineError(
                'plan-mismatch',
                `The plan was made for ${part.name}, but the ${request.powerPreference} GPU adapter differs: ${differences.join('; ')}. The model has to be planned again for this GPU.`,
              );
            }
          },
        }),
      );
    }
  } catch (error) {
    for (const device of devices) device.device.destroy();
    throw error;
  }
  return devices;
}

/** Carries out the page's plan: its devices, layers, residency, weights and context. */
async function loadGgufEngine(
  source: ModelSource,
  plan: Plan,
  onProgress: (progress: LoadProgress) => void,
  signal: AbortSignal,
): Promise<HostedEngine> {
  const gpu = browserEnvironment().gpu;
  if (!gpu) throw new EngineError('no-webgpu', toEngineFailure('WebGPU is not available').message);
  const header = await parseHeader(source);
  checkSupported(header);
  if (plan.layers.total !== header.hparams.blockCount) {
    throw new EngineError(
      'plan-mismatch',
      `The plan was made for a model with ${plan.layers.total} layers, but this file has ${header.hparams.blockCount}: plan the model again.`,
    );
  }
  if (plan.fits === 'none') {
    throw new EngineError(
      'out-of-memory',
      `This model will not run here: ${plan.reasons.join(' ')}`,
    );
  }
  const devices = await openPlannedDevices(gpu, plan);
  try {
    const engine = await GgufEngine.loadPlanned(devices, source, header, plan, {
      codec: textCodec,
      variantCache: new KernelChoiceStore(),
      signal,
      onProgress,
    });
    return {
      engine,
      lost: Promise.race(devices.map((d): Promise<DeviceLoss> => d.lost)),
      carriedOut: () => engine.planned.carriedOut(),
    };
  } catch (error) {
    for (const device of devices) device.device.destroy();
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

if (typeof WorkerGlobalScope !== 'undefined' && self instanceof WorkerGlobalScope) {
  serveEngine(self as unknown as WorkerScopeLike, loadGgufEngine);
}
