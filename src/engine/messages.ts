// Every message between the page and the engine worker, typed in one place, plus the mapping of
// any failure (an Error, a DOMException, or a plain string as WebLLM's worker sends) to an error
// kind and a message that says what happened and what the person can do.
import type {
  ChatMessage,
  GenerationEvent,
  GenerationStats,
  LoadProgress,
  SamplingOptions,
} from './engine';
import type { CarriedOutPlan } from './gguf/planned-load';
import type { Plan } from '../plan/types';

/** Where the GGUF bytes come from, in a form that crosses postMessage (a Blob clones cheaply). */
export type GgufSourceRef =
  | { type: 'url'; url: string }
  | { type: 'file'; file: Blob; name: string }
  | { type: 'store'; modelId: string };

export interface LoadedModel {
  kind: 'gguf' | 'webllm' | 'wllama';
  name: string;
  contextTokens: number;
  /** CPU threads the CPU engine runs on (one where the page is not cross-origin isolated). */
  threads?: number;
  /** The plan as the engine carried it out, with each device's allocated bytes (GGUF only). */
  carriedOut?: CarriedOutPlan;
}

export interface WireGenerationOptions {
  maxTokens: number;
  sampling: SamplingOptions;
  stop?: string[];
}

export type WorkerRequest =
  /** The page's plan travels whole: the worker opens the devices it names and carries it out. */
  | { type: 'load'; id: number; source: GgufSourceRef; plan: Plan }
  | { type: 'chat'; id: number; messages: ChatMessage[]; options: WireGenerationOptions }
  | { type: 'stop'; id: number; target: number }
  | { type: 'unload'; id: number };

export type EngineErrorKind =
  | 'no-webgpu'
  | 'device-lost'
  | 'out-of-memory'
  | 'missing-feature'
  | 'quota'
  | 'network'
  | 'bad-model'
  | 'not-loaded'
  | 'plan-mismatch'
  | 'context-full'
  | 'aborted'
  | 'unknown';

/** The plan a load was carrying out when the GPU refused it. */
export interface FailedPlan {
  gpuBytes: number;
  residentLayers: number;
  totalLayers: number;
  contextTokens: number;
}

export interface EngineFailure {
  kind: EngineErrorKind;
  message: string;
  plan?: FailedPlan;
}

export type WorkerResponse =
  | { type: 'progress'; id: number; progress: LoadProgress }
  | { type: 'loaded'; id: number; model: LoadedModel }
  | { type: 'token'; id: number; token: Extract<GenerationEvent, { type: 'token' }> }
  | { type: 'done'; id: number; stats: GenerationStats }
  | { type: 'unloaded'; id: number }
  | { type: 'error'; id: number; error: EngineFailure };

/** An error whose kind survives the trip across postMessage. */
export class EngineError extends Error {
  readonly kind: EngineErrorKind;
  readonly plan?: FailedPlan;

  constructor(kind: EngineErrorKind, message: string, plan?: FailedPlan) {
    super(message);
    this.name = 'EngineError';
    this.kind = kind;
    if (plan) this.plan = plan;
  }
}

const ADVICE = {
  'no-webgpu':
    'This browser offers no WebGPU here: use a current Chrome, Edge or Safari (or enable WebGPU) and open the app over https or localhost.',
  'device-lost':
    'The GPU device was lost (the driver reset or the GPU ran out of memory): reload the model; if it happens again, pick a smaller model or a shorter context.',
  'out-of-memory':
    'The GPU ran out of memory while loading: pick a smaller model or quantization, a shorter context, or fewer resident layers, then load again.',
  'missing-feature':
    'The GPU lacks a feature this model needs: choose the f32 variant (q4f32_1 or compute precision f32) or another model.',
  quota:
    'The browser refused to store more data (storage quota reached): delete models you no longer need in the Storage view, then try again.',
  network:
    'The download failed (the network dropped or the host refused): check the connection and try again; finished parts are kept.',
  'not-loaded': 'No model is loaded: choose one in the Models view first.',
} satisfies Partial<Record<EngineErrorKind, string>>;

type AdvisedKind = keyof typeof ADVICE;

const PATTERNS: [RegExp, AdvisedKind | 'aborted'][] = [
  [/quota|QuotaExceededError|storage.*(full|exceeded)/i, 'quota'],
  [/device.*lost|lost.*device|DeviceLostError/i, 'device-lost'],
  [/out of memory|out-of-memory|\bOOM\b|allocation failed|failed to allocate/i, 'out-of-memory'],
  [
    /shader-f16|requires? (WebGPU extension|feature)|missing feature|FeatureSupportError/i,
    'missing-feature',
  ],
  [
    /navigator\.gpu|WebGPU is not (supported|available)|Cannot find WebGPU|no (GPU )?adapter/i,
    'no-webgpu',
  ],
  [/AbortError|aborted|interrupted/i, 'aborted'],
  [/NetworkError|Failed to fetch|network|ERR_INTERNET|ERR_CONNECTION|HTTP \d{3}/i, 'network'],
];

function describe(error: unknown): string {
  if (typeof error === 'string') return error;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  if (error && typeof error === 'object' && 'message' in error) return String(error.message);
  return String(error);
}

/** Names the kind of failure and says what to do, keeping the original text for bug reports. */
export function toEngineFailure(error: unknown): EngineFailure {
  if (error instanceof EngineError) {
    return {
      kind: error.kind,
      message: error.message,
      ...(error.plan ? { plan: error.plan } : {}),
    };
  }
  const text = describe(error);
  const kind = PATTERNS.find(([re]) => re.test(text))?.[1];
  if (kind === 'aborted') return { kind, message: 'Stopped.' };
  if (kind) return { kind, message: `${ADVICE[kind]} (${text})` };
  // The GGUF reader's typed errors carry a code and already name the problem and the remedy.
  if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') {
    return { kind: 'bad-model', message: error.message };
  }
  return { kind: 'unknown', message: `The engine failed: ${text}` };
}

export function toEngineError(failure: EngineFailure): EngineError {
  return new EngineError(failure.kind, failure.message, failure.plan);
}
