// What distinguishes each model architecture the engine runs, as data. The hyper-parameters, the
// tensor schema, the graph builder, the planner's byte accounting and the test fixtures all read
// this table, so supporting an architecture means adding an entry here (and, for a feature no
// entry used before, teaching the graph builder that feature).

export interface ArchitectureSpec {
  /**
   * RoPE rotates pairs of a head's values: `adjacent` pairs (2i, 2i+1) as in Meta's Llama,
   * `neox` pairs (i, i + d/2) as GPT-NeoX and most Hugging Face ports.
   */
  ropePairing: 'adjacent' | 'neox';
  /** Every `ropeSkipPeriod`-th layer (the last of each period) has no RoPE (SmolLM3); 0: none. */
  ropeSkipPeriod: number;
  /** RoPE scalings a file of this architecture may declare (`rope.scaling.type`). */
  ropeScalings: readonly ('linear' | 'llama3')[];
  /** `rms` (RMSNorm, no bias) or `layer` (LayerNorm with mean and bias). */
  norm: 'rms' | 'layer';
  /** Metadata default for the norm epsilon when the key is absent. */
  normEpsilon: number;
  /** Norms on the attention and FFN outputs before each residual add (Gemma 2/3). */
  postNorms: boolean;
  /** RMSNorm per head on queries and keys before RoPE (Qwen3, Gemma 3). */
  qkNorm: boolean;
  /** Biases on q, k and v: always present, allowed, or never written by the converter. */
  qkvBias: 'required' | 'optional' | 'none';
  /** The FFN nonlinearity. */
  activation: 'silu' | 'gelu-tanh';
  /** act(gate x) * (up x), or act(up x) alone. */
  gatedFfn: boolean;
  /** q, k and v stored as one `attn_qkv` matrix (Phi-3). */
  fusedQkv: boolean;
  /** Gate and up stored as one `ffn_up` matrix of twice the FFN width, gate first (Phi-3). */
  fusedGateUp: boolean;
  /** Token embeddings multiplied by this factor of the embedding width on lookup (Gemma: sqrt). */
  embeddingScale: 'none' | 'sqrt';
  /**
   * Attention scores and final logits pass through cap * tanh(x / cap). A listed cap is read from
   * `attn_logit_softcapping` / `final_logit_softcapping` with this default (0: no cap).
   */
  softCaps: { attention?: number; final?: number };
  /** Layers that attend over a sliding window of recent positions only; null: none. */
  slidingWindow: SlidingWindowSpec | null;
  /** How a sequence becomes one vector in embedding mode; `none` for generative models. */
  pooling: 'none';
  /**
   * A bidirectional encoder (the BERT family) instead of a causal decoder; null for decoders. It
   * has no KV cache and no output layer: the encoder graph runs whole sequences in one pass.
   */
  encoder: EncoderSpec | null;
}

export interface EncoderSpec {
  /** Learned absolute positions (`position_embd`, BERT) or RoPE on q and k (nomic-bert). */
  positions: 'learned' | 'rope';
  /**
   * Biases of the FFN's up and down products that the graph adds where the file has them; llama.cpp
   * ignores them for nomic-bert's SwiGLU FFN.
   */
  ffnBiases: boolean;
}

export interface SlidingWindowSpec {
  /**
   * Of every `period` layers the last attends to all positions and the others to the window, as
   * llama.cpp's `set_swa_pattern`; `attention.sliding_window_pattern` overrides it.
   */
  period: number;
  /** Window in positions when `attention.sliding_window` is absent; undefined: then no window. */
  defaultWindow?: number;
  /** RoPE base of the windowed layers when `rope.freq_base_swa` is absent (no RoPE scaling). */
  localRopeBase: number | 'global';
}

const LLAMA: ArchitectureSpec = {
  ropePairing: 'adjacent',
  ropeSkipPeriod: 0,
  ropeScalings: ['linear', 'llama3'],
  norm: 'rms',
  normEpsilon: 1e-5,
  postNorms: false,
  qkNorm: false,
  qkvBias: 'optional',
  activation: 'silu',
  gatedFfn: true,
  fusedQkv: false,
  fusedGateUp: false,
  embeddingScale: 'none',
  softCaps: {},
  slidingWindow: null,
  pooling: 'none',
  encoder: null,
};

/**
 * BERT: token, token-type (0) and position embeddings summed and LayerNormed; per layer attention
 * over the whole sequence, then LayerNorm(x + attention), then LayerNorm(x + FFN) with a GELU FFN;
 * biases throughout. Its pooling is the file's `bert.pooling_type`.
 */
const BERT: ArchitectureSpec = {
  ...LLAMA,
  ropePairing: 'neox',
  ropeScalings: [],
  norm: 'layer',
  normEpsilon: 1e-12,
  activation: 'gelu-tanh',
  gatedFfn: false,
  encoder: { positions: 'learned', ffnBiases: true },
};

/** Gemma 2 and 3: GELU-gated FFN, sqrt(n_embd) embedding scale, norms after attention and FFN. */
const GEMMA: ArchitectureSpec = {
  ...LLAMA,
  ropePairing: 'neox',
  ropeScalings: ['linear'],
  normEpsilon: 1e-6,
  postNorms: true,
  qkvBias: 'none',
  activation: 'gelu-tanh',
  embeddingScale: 'sqrt',
};

export const ARCHITECTURES = {
  llama: LLAMA,
  qwen2: { ...LLAMA, ropePairing: 'neox', ropeScalings: ['linear'], qkvBias: 'required' },
  qwen3: { ...LLAMA, ropePairing: 'neox', ropeScalings: ['linear'], qkNorm: true },
  gemma2: {
    ...GEMMA,
    softCaps: { attention: 50, final: 30 },
    slidingWindow: { period: 2, defaultWindow: 4096, localRopeBase: 'global' },
  },
  gemma3: {
    ...GEMMA,
    qkNorm: true,
    softCaps: { final: 0 },
    slidingWindow: { period: 6, localRopeBase: 10000 },
  },
  smollm3: { ...LLAMA, ropeSkipPeriod: 4 },
  // Phi-3 and Phi-3.5 (LongRoPE through rope_factors_short/long); llama.cpp ignores their
  // sliding_window key, and so does the engine.
  phi3: {
    ...LLAMA,
    ropePairing: 'neox',
    ropeScalings: ['linear'],
    qkvBias: 'none',
    fusedQkv: true,
    fusedGateUp: true,
  },
  bert: BERT,
  // nomic-embed-text: fused q/k/v without biases, RoPE (NeoX pairs), a SwiGLU FFN.
  'nomic-bert': {
    ...BERT,
    qkvBias: 'none',
    fusedQkv: true,
    activation: 'silu',
    gatedFfn: true,
    encoder: { positions: 'rope', ffnBiases: false },
  },
} satisfies Record<string, ArchitectureSpec>;

export type Architecture = keyof typeof ARCHITECTURES;

export const ARCHITECTURE_NAMES = Object.keys(ARCHITECTURES) as Architecture[];

export function isArchitecture(name: unknown): name is Architecture {
  return typeof name === 'string' && Object.hasOwn(ARCHITECTURES, name);
}

export function architectureSpec(name: Architecture): ArchitectureSpec {
  return ARCHITECTURES[name];
}
