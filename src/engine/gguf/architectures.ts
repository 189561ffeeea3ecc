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
  /** Attention and final logits pass through cap * tanh(x / cap) when the file sets the caps. */
  softCaps: boolean;
  /** How the file says which layers attend over a sliding window only. */
  slidingWindow: 'none';
  /** How a sequence becomes one vector in embedding mode; `none` for generative models. */
  pooling: 'none';
}

const LLAMA: ArchitectureSpec = {
  ropePairing: 'adjacent',
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
  softCaps: false,
  slidingWindow: 'none',
  pooling: 'none',
};

export const ARCHITECTURES = {
  llama: LLAMA,
  qwen2: { ...LLAMA, ropePairing: 'neox', ropeScalings: ['linear'], qkvBias: 'required' },
  qwen3: { ...LLAMA, ropePairing: 'neox', ropeScalings: ['linear'], qkNorm: true },
} satisfies Record<string, ArchitectureSpec>;

export type Architecture = keyof typeof ARCHITECTURES;

export const ARCHITECTURE_NAMES = Object.keys(ARCHITECTURES) as Architecture[];

export function isArchitecture(name: unknown): name is Architecture {
  return typeof name === 'string' && Object.hasOwn(ARCHITECTURES, name);
}

export function architectureSpec(name: Architecture): ArchitectureSpec {
  return ARCHITECTURES[name];
}
