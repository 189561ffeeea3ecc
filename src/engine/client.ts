// The page's side of the engine: a typed RPC over postMessage to the GGUF engine worker, and the
// lazy door to WebLLM, both seen by the app as one `ChatEngine`.
import type {
  ChatEngine,
  ChatMessage,
  GenerationEvent,
  GenerationOptions,
  LoadProgress,
} from './engine';
import type { Plan } from '../plan/types';
import type { CarriedOutPlan } from './gguf/planned-load';
import {
  EngineError,
  toEngineError,
  type GgufSourceRef,
  type LoadedModel,
  type WorkerRequest,
  type WorkerResponse,
} from './messages';

/**
 * What the Models view and the chat's picker hand the session: for GGUF, the source and the plan the
 * page made, which the worker carries out as it is (enough to load it again after a reload). A
 * choice without a plan is planned on this device before it loads.
 */
export type ModelChoice =
  | { kind: 'gguf'; id: string; label: string; source: GgufSourceRef; plan?: Plan }
  | { kind: 'webllm'; id: string; label: string; modelId: string; contextWindowSize: number };

export interface LoadedEngine extends ChatEngine {
  readonly name: string;
  /** The plan as the engine carried it out, with each device's allocated bytes (GGUF only). */
  readonly carriedOut?: CarriedOutPlan;
  /** CPU threads when the model runs on the CPU engine. */
  readonly threads?: number;
}

export interface EnginePort {
  postMessage(message: WorkerRequest): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<WorkerResponse>) => void): void;
  addEventListener(type: 'error', listener: (event: ErrorEvent) => void): void;
  terminate(): void;
}

type Listener = (response: WorkerResponse) => void;

/** The GGUF engine running in the worker behind `port`. */
export class WorkerEngine implements LoadedEngine {
  readonly kind = 'gguf';
  contextTokens = 0;
  name = '';
  /** CPU threads when the model runs on the CPU engine. */
  threads: number | undefined;
  carriedOut?: CarriedOutPlan;
  private nextId = 1;
  private readonly listeners = new Map<number, Listener>();
  private crashed: EngineError | null = null;

  constructor(private readonly port: EnginePort) {
    port.addEventListener('message', (event) => this.listeners.get(event.data.id)?.(event.data));
    port.addEventListener('error', (event) => {
      this.crashed = new EngineError(
        'unknown',
        `The engine worker crashed (${event.message || 'no message'}): reload the page and load the model again.`,
      );
      for (const listener of this.listeners.values()) {
        listener({
          type: 'error',
          id: 0,
          error: { kind: 'unknown', message: this.crashed.message },
        });
      }
    });
  }

  /** Loads the model in the worker; aborting terminates the worker, which frees its GPU memory. */
  async load(
    source: GgufSourceRef,
    plan: Plan,
    onProgress: (progress: LoadProgress) => void,
    signal?: AbortSignal,
  ): Promise<LoadedModel> {
    const onAbort = () => this.port.terminate();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const model = await this.request<LoadedModel>(
        { type: 'load', id: 0, source, plan },
        (r) => {
          if (r.type === 'progress') onProgress(r.progress);
          return r.type === 'loaded' ? { value: r.model } : undefined;
        },
        signal,
      );
      this.contextTokens = model.contextTokens;
      this.name = model.name;
      this.threads = model.threads;
      this.carriedOut = model.carriedOut;
      return model;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async unload(): Promise<void> {
    await this.request({ type: 'unload', id: 0 }, (r) =>
      r.type === 'unloaded' ? { value: undefined } : undefined,
    );
    this.port.terminate();
  }

  async *chat(
    messages: ChatMessage[],
    options: GenerationOptions,
  ): AsyncGenerator<GenerationEvent> {
    if (this.crashed) throw this.crashed;
    const id = this.nextId++;
    const queue: (GenerationEvent | EngineError)[] = [];
    let wake: (() => void) | null = null;
    this.listeners.set(id, (r) => {
      if (r.type === 'token') queue.push(r.token);
      else if (r.type === 'done') queue.push({ type: 'done', stats: r.stats });
      else if (r.type === 'error') queue.push(toEngineError(r.error));
      wake?.();
    });
    const stop = () => this.port.postMessage({ type: 'stop', id: this.nextId++, target: id });
    options.signal?.addEventListener('abort', stop, { once: true });
    const { signal: _signal, ...wire } = options;
    this.port.postMessage({ type: 'chat', id, messages, options: wire });
    if (options.signal?.aborted) stop();
    let finished = false;
    try {
      for (;;) {
        if (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        const event = queue.shift()!;
        if (event instanceof EngineError) {
          finished = true;
          throw event;
        }
        finished = event.type === 'done';
        yield event;
        if (finished) return;
      }
    } finally {
      options.signal?.removeEventListener('abort', stop);
      // A consumer that stops reading early must not leave the worker generating.
      if (!finished) stop();
      this.listeners.delete(id);
    }
  }

  private request<T>(
    message: WorkerRequest,
    accept: (response: WorkerResponse) => { value: T } | undefined,
    signal?: AbortSignal,
  ): Promise<T> {
    if (this.crashed) return Promise.reject(this.crashed);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const finish = () => {
        this.listeners.delete(id);
        signal?.removeEventListener('abort', aborted);
      };
      const aborted = () => {
        finish();
        reject(new EngineError('aborted', 'Loading was cancelled.'));
      };
      signal?.addEventListener('abort', aborted, { once: true });
      this.listeners.set(id, (r) => {
        if (r.type === 'error') {
          finish();
          reject(toEngineError(r.error));
          return;
        }
        const accepted = accept(r);
        if (accepted) {
          finish();
          resolve(accepted.value);
        }
      });
      this.port.postMessage({ ...message, id });
    });
  }
}

function startWorker(): EnginePort {
  return new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'engine' });
}

/** Loads the chosen model in its own worker; WebLLM's module is fetched only for an MLC model. */
export async function loadEngine(
  choice: ModelChoice,
  onProgress: (progress: LoadProgress) => void,
  signal?: AbortSignal,
): Promise<LoadedEngine> {
  if (choice.kind === 'webllm') {
    const { loadWebLLM } = await import('./webllm/engine');
    return loadWebLLM(choice.modelId, {
      contextWindowSize: choice.contextWindowSize,
      onProgress,
      signal,
    });
  }
  if (!choice.plan) {
    throw new EngineError(
      'plan-mismatch',
      `${choice.label} has no plan yet: plan it before loading.`,
    );
  }
  const port = startWorker();
  const engine = new WorkerEngine(port);
  try {
    await engine.load(choice.source, choice.plan, onProgress, signal);
  } catch (error) {
    port.terminate();
    throw error;
  }
  return engine;
}
