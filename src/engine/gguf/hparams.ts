// Model hyper-parameters from GGUF metadata for the architectures the engine runs, with the
// defaults llama.cpp applies when a key is absent.

import {
  ARCHITECTURES,
  ARCHITECTURE_NAMES,
  isArchitecture,
  type Architecture,
  type ArchitectureSpec,
} from './architectures.ts';
import { GgufFormatError } from './errors.ts';
import type { ModelHparams, RopeScaling, TensorInfo } from './types.ts';

function num(metadata: Record<string, unknown>, key: string, fallback?: number): number {
  const value = metadata[key];
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw new GgufFormatError(
      'bad-metadata',
      `Metadata key "${key}" is missing: the file was not written by a complete converter; use a GGUF from llama.cpp's convert script.`,
      key,
    );
  }
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw new GgufFormatError(
      'bad-metadata',
      `Metadata key "${key}" should be a number but is ${String(value)}.`,
      key,
    );
  }
  return n;
}

function positiveInt(
  metadata: Record<string, unknown>,
  key: string,
  fallback?: number,
  max = 2 ** 31,
): number {
  const n = num(metadata, key, fallback);
  if (!Number.isInteger(n) || n <= 0 || n > max) {
    throw new GgufFormatError(
      'bad-metadata',
      `Metadata key "${key}" is ${n}, not a positive integer up to ${max}: the header is damaged; download the file again.`,
      key,
    );
  }
  return n;
}

/** A number that `valid` accepts; `rule` says what that is in the error. */
function checkedNum(
  metadata: Record<string, unknown>,
  key: string,
  fallback: number,
  valid: (n: number) => boolean,
  rule: string,
): number {
  const n = num(metadata, key, fallback);
  if (!valid(n)) {
    throw new GgufFormatError(
      'bad-metadata',
      `Metadata key "${key}" is ${n}; it must be ${rule}: the header is damaged; download the file again.`,
      key,
    );
  }
  return n;
}

export function architectureOf(metadata: Record<string, unknown>): Architecture {
  const arch = metadata['general.architecture'];
  if (!isArchitecture(arch)) {
    throw new GgufFormatError(
      'unknown-architecture',
      `Architecture "${String(arch)}" (general.architecture) is not supported: this engine runs ${ARCHITECTURE_NAMES.join(', ')} models; choose one of those.`,
      'general.architecture',
    );
  }
  return arch;
}

function ropeScaling(
  metadata: Record<string, unknown>,
  arch: Architecture,
  tensors: TensorInfo[],
): RopeScaling {
  const allowed: readonly string[] = ARCHITECTURES[arch].ropeScalings;
  const type = metadata[`${arch}.rope.scaling.type`];
  const factor = num(metadata, `${arch}.rope.scaling.factor`, 1);
  const originalContextLength = metadata[`${arch}.rope.scaling.original_context_length`];
  const original = originalContextLength === undefined ? undefined : Number(originalContextLength);
  // Llama 3.x files carry their scaling as per-frequency factors in `rope_freqs.weight`.
  const llama3 = type === 'llama3' || tensors.some((t) => t.name === 'rope_freqs.weight');
  if (llama3 && allowed.includes('llama3')) {
    return {
      type: 'llama3',
      factor,
      lowFreqFactor: num(metadata, `${arch}.rope.scaling.low_freq_factor`, 1),
      highFreqFactor: num(metadata, `${arch}.rope.scaling.high_freq_factor`, 4),
      originalContextLength: original,
    };
  }
  if ((type === 'linear' || (type === undefined && factor !== 1)) && allowed.includes('linear')) {
    return { type: 'linear', factor, originalContextLength: original };
  }
  if (!llama3 && (type === 'none' || (type === undefined && factor === 1))) {
    return original === undefined
      ? { type: 'none', factor: 1 }
      : { type: 'none', factor: 1, originalContextLength: original };
  }
  throw new GgufFormatError(
    'bad-metadata',
    `RoPE scaling "${String(type ?? (llama3 ? 'llama3' : 'linear'))}" (${arch}.rope.scaling.type) is not supported for ${arch}: the engine handles none${allowed.map((a) => `, ${a}`).join('')}.`,
    `${arch}.rope.scaling.type`,
  );
}

export function deriveHparams(
  metadata: Record<string, unknown>,
  tensors: TensorInfo[],
): ModelHparams {
  const arch = architectureOf(metadata);
  const spec: ArchitectureSpec = ARCHITECTURES[arch];
  const embd = positiveInt(metadata, `${arch}.embedding_length`);
  const heads = positiveInt(metadata, `${arch}.attention.head_count`);
  const headsKv = positiveInt(metadata, `${arch}.attention.head_count_kv`, heads);
  if (heads % headsKv) {
    throw new GgufFormatError(
      'bad-metadata',
      `${arch}.attention.head_count (${heads}) is not a multiple of head_count_kv (${headsKv}): the header is damaged.`,
      `${arch}.attention.head_count_kv`,
    );
  }
  const keyLength = positiveInt(
    metadata,
    `${arch}.attention.key_length`,
    embd % heads ? undefined : embd / heads,
  );
  const valueLength = positiveInt(metadata, `${arch}.attention.value_length`, keyLength);
  const embedding = tensors.find((t) => t.name === 'token_embd.weight');
  const tokens = metadata['tokenizer.ggml.tokens'];
  const vocabSize = embedding?.dims[1] ?? (Array.isArray(tokens) ? tokens.length : 0);
  const ropeDims = positiveInt(metadata, `${arch}.rope.dimension_count`, keyLength);
  if (ropeDims > keyLength || ropeDims % 2) {
    throw new GgufFormatError(
      'bad-metadata',
      `${arch}.rope.dimension_count (${ropeDims}) must be even and at most the head width ${keyLength}.`,
      `${arch}.rope.dimension_count`,
    );
  }
  const window = spec.slidingWindow;
  const slidingWindow = window
    ? nonNegativeInt(metadata, `${arch}.attention.sliding_window`, window.defaultWindow ?? 0)
    : 0;
  const ropeTheta = checkedNum(
    metadata,
    `${arch}.rope.freq_base`,
    10000,
    (n) => n > 0,
    'above zero',
  );
  return {
    architecture: arch,
    name:
      typeof metadata['general.name'] === 'string' ? (metadata['general.name'] as string) : arch,
    blockCount: positiveInt(metadata, `${arch}.block_count`, undefined, 4096),
    embeddingLength: embd,
    feedForwardLength: positiveInt(metadata, `${arch}.feed_forward_length`),
    headCount: heads,
    headCountKv: headsKv,
    keyLength,
    valueLength,
    contextLength: positiveInt(metadata, `${arch}.context_length`, 2048),
    vocabSize,
    rmsEpsilon: checkedNum(
      metadata,
      spec.norm === 'layer'
        ? `${arch}.attention.layer_norm_epsilon`
        : `${arch}.attention.layer_norm_rms_epsilon`,
      spec.normEpsilon,
      (n) => n >= 0,
      'zero or more',
    ),
    ropeTheta,
    ropeDims,
    ropePairing: spec.ropePairing,
    ropeScaling: ropeScaling(metadata, arch, tensors),
    ropeAttnFactor: checkedNum(
      metadata,
      `${arch}.rope.scaling.attn_factor`,
      1,
      (n) => n > 0,
      'above zero',
    ),
    tiedEmbeddings: !tensors.some((t) => t.name === 'output.weight'),
    slidingWindow,
    slidingPeriod: window
      ? positiveInt(metadata, `${arch}.attention.sliding_window_pattern`, window.period, 4096)
      : 0,
    ropeThetaLocal: window
      ? checkedNum(
          metadata,
          `${arch}.rope.freq_base_swa`,
          window.localRopeBase === 'global' ? ropeTheta : window.localRopeBase,
          (n) => n > 0,
          'above zero',
        )
      : ropeTheta,
    attentionSoftCap: softCap(metadata, `${arch}.attn_logit_softcapping`, spec.softCaps.attention),
    finalSoftCap: softCap(metadata, `${arch}.final_logit_softcapping`, spec.softCaps.final),
    ...(spec.encoder
      ? { tokenTypes: positiveInt(metadata, 'tokenizer.ggml.token_type_count', undefined, 64) }
      : {}),
  };
}

/** A soft-cap the architecture reads (`fallback` defined), or 0. */
function softCap(metadata: Record<string, unknown>, key: string, fallback?: number): number {
  if (fallback === undefined) return 0;
  return checkedNum(metadata, key, fallback, (n) => n >= 0, 'zero (no cap) or more');
}

function nonNegativeInt(metadata: Record<string, unknown>, key: string, fallback: number): number {
  const n = num(metadata, key, fallback);
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 31) {
    throw new GgufFormatError(
      'bad-metadata',
      `Metadata key "${key}" is ${n}, not a whole number of positions: the header is damaged.`,
      key,
    );
  }
  return n;
}

/** Whether layer `layer` attends over the sliding window only (llama.cpp's `is_swa`). */
export function isSlidingLayer(h: ModelHparams, layer: number): boolean {
  return h.slidingWindow > 0 && layer % h.slidingPeriod < h.slidingPeriod - 1;
}
