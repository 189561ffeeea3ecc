// Random-weight GGUFs in the exact shapes and tensor types of real published files, for speed
// comparisons: what a kernel reads per token depends on the shapes and types, not the values.
// Tensor types follow llama.cpp's quantizer through the planner's `quantizedType` (Q6_K output,
// `use_more_bits` layers, block-size fallbacks: SmolLM2-135M's 576-wide rows are not whole K-quant
// blocks), the vocabulary is the real size (byte-level BPE tokens, the fixture merges, ChatML
// specials, then plain filler tokens). The tied embedding rows of tokens that are not whole UTF-8
// text alone, and of the special tokens, are zero, so greedy decoding never picks one (llama.cpp in
// WebAssembly cannot return a lone byte, and an end-of-generation token would stop its decode).
// Files are written once to test/.cache/bench/, named by a hash of their generator's sources.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { GGMLType, BLOCK_LAYOUT } from '../../../src/engine/gguf/types.ts';
import { realShapeTensors, type RealShape } from '../../fixtures/real-shapes.ts';
import { randomTensor, seededRandom } from '../../fixtures/gguf/blocks.ts';
import { buildBpeVocab, TOKEN_TYPE } from '../../fixtures/gguf/vocab.ts';
import { CHATML_TEMPLATE } from '../../fixtures/gguf/templates.ts';
import { arr, f32, u32, ValueType, writeGguf, type MetaInput } from '../../fixtures/gguf/writer.ts';

const root = resolve(import.meta.dirname, '../../..');
export const BENCH_MODEL_DIR = join(root, 'test/.cache/bench');

export interface BenchModel {
  id: string;
  /** What the shape is, for the report. */
  description: string;
  shape: RealShape;
  ropeTheta: number;
}

const SMOLLM2_135M = {
  arch: 'llama',
  layers: 30,
  embedding: 576,
  feedForward: 1536,
  heads: 9,
  kvHeads: 3,
  headDim: 64,
  vocab: 49152,
  context: 8192,
  tied: true,
  ropeFreqs: false,
} as const;

const QWEN25_05B = {
  arch: 'qwen2',
  layers: 24,
  embedding: 896,
  feedForward: 4864,
  heads: 14,
  kvHeads: 2,
  headDim: 64,
  vocab: 151936,
  context: 32768,
  tied: true,
  ropeFreqs: false,
} as const;

export const BENCH_MODELS: BenchModel[] = [
  {
    id: 'smollm2-135m-q8_0',
    description: 'SmolLM2-135M shape, Q8_0',
    shape: { id: 'SmolLM2-135M-Q8_0', fileType: 'Q8_0', ...SMOLLM2_135M },
    ropeTheta: 100000,
  },
  {
    id: 'smollm2-135m-q4_k_m',
    description: 'SmolLM2-135M shape, Q4_K_M mix (Q5_0/Q8_0 fallbacks for 576-wide rows)',
    shape: { id: 'SmolLM2-135M-Q4_K_M', fileType: 'Q4_K_M', ...SMOLLM2_135M },
    ropeTheta: 100000,
  },
  {
    id: 'qwen2.5-0.5b-q4_k_m',
    description: 'Qwen2.5-0.5B shape, Q4_K_M mix',
    shape: { id: 'Qwen2.5-0.5B-Q4_K_M', fileType: 'Q4_K_M', ...QWEN25_05B },
    ropeTheta: 1000000,
  },
];

export function benchModel(id: string): BenchModel {
  const model = BENCH_MODELS.find((m) => m.id === id);
  if (!model) {
    throw new Error(`no bench model "${id}"; known: ${BENCH_MODELS.map((m) => m.id).join(', ')}`);
  }
  return model;
}

const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];

interface BenchVocab {
  meta: Record<string, MetaInput>;
  /** Ids that must never be generated (zero rows): lone non-ASCII bytes and the specials. */
  silent: number[];
}

/** The fixture BPE vocabulary padded with ASCII filler tokens to `size` entries. */
function benchVocab(size: number, pre: string): BenchVocab {
  const v = buildBpeVocab(420, SPECIALS);
  const tokens = [...v.tokens];
  const types = [...v.types];
  const seen = new Set(tokens);
  for (let n = 0; tokens.length < size; n++) {
    const text = `zq${n.toString(36)}`;
    if (seen.has(text)) continue;
    tokens.push(text);
    types.push(TOKEN_TYPE.normal);
  }
  // Byte-level tokens 0-255 are bytes in order; those of 0x80 and above are not text alone.
  const silent = [...Array.from({ length: 128 }, (_, i) => 128 + i), ...Object.values(v.specials)];
  const s = v.specials;
  return {
    meta: {
      'tokenizer.ggml.model': 'gpt2',
      'tokenizer.ggml.pre': pre,
      'tokenizer.ggml.tokens': arr(ValueType.STRING, tokens),
      'tokenizer.ggml.token_type': arr(ValueType.INT32, types),
      'tokenizer.ggml.merges': arr(ValueType.STRING, v.merges),
      'tokenizer.ggml.bos_token_id': u32(s['<|im_start|>']),
      'tokenizer.ggml.eos_token_id': u32(s['<|im_end|>']),
      'tokenizer.ggml.padding_token_id': u32(s['<|endoftext|>']),
      'tokenizer.ggml.add_bos_token': false,
      'tokenizer.chat_template': CHATML_TEMPLATE,
    },
    silent,
  };
}

function metadata(model: BenchModel): Record<string, MetaInput> {
  const s = model.shape;
  const a = s.arch;
  return {
    'general.architecture': a,
    'general.name': `${model.id} (random weights)`,
    'general.quantization_version': u32(2),
    'general.file_type': u32(s.fileType === 'Q8_0' ? 7 : 15),
    [`${a}.block_count`]: u32(s.layers),
    [`${a}.context_length`]: u32(s.context),
    [`${a}.embedding_length`]: u32(s.embedding),
    [`${a}.feed_forward_length`]: u32(s.feedForward),
    [`${a}.attention.head_count`]: u32(s.heads),
    [`${a}.attention.head_count_kv`]: u32(s.kvHeads),
    [`${a}.rope.dimension_count`]: u32(s.headDim),
    [`${a}.rope.freq_base`]: f32(model.ropeTheta),
    [`${a}.attention.layer_norm_rms_epsilon`]: f32(1e-6),
    [`${a}.vocab_size`]: u32(s.vocab),
  };
}

/** Standard deviation of a tensor's random values: unit-scale activations through every layer. */
function tensorStd(name: string, dims: number[], tied: boolean): { mean: number; std: number } {
  if (name.endsWith('norm.weight')) return { mean: 1, std: 0.1 };
  if (name.endsWith('.bias')) return { mean: 0, std: 0.1 };
  if (name === 'token_embd.weight') return { mean: 0, std: tied ? 0.3 : 1 };
  const gain = tied && /attn_output|ffn_down/.test(name) ? 12 : 1;
  return { mean: 0, std: gain / Math.sqrt(dims[0]) };
}

/** Zeroes whole Q8_0 rows of `data` (a zero block scale makes every value of the block zero). */
function zeroRows(type: GGMLType, data: Uint8Array, rowLength: number, rows: number[]): void {
  if (type !== GGMLType.Q8_0) {
    throw new Error(`bench models zero output rows of Q8_0 tensors only, not ${GGMLType[type]}`);
  }
  const layout = BLOCK_LAYOUT[type]!;
  const rowBytes = (rowLength / layout.values) * layout.bytes;
  for (const row of rows) data.fill(0, row * rowBytes, (row + 1) * rowBytes);
}

export function benchModelBytes(model: BenchModel): Uint8Array {
  const s = model.shape;
  const vocab = benchVocab(s.vocab, s.arch === 'qwen2' ? 'qwen2' : 'smollm');
  const rand = seededRandom(s.layers * 1000 + s.embedding);
  const output = s.tied ? 'token_embd.weight' : 'output.weight';
  const tensors = realShapeTensors(s).map(({ name, dims, type }) => {
    const { mean, std } = tensorStd(name, dims, s.tied);
    const data = randomTensor(
      type,
      dims.reduce((a, b) => a * b, 1),
      rand,
      mean,
      std,
    );
    if (name === output) zeroRows(type, data, dims[0], vocab.silent);
    return { name, type, dims, data };
  });
  return writeGguf({ ...metadata(model), ...vocab.meta }, tensors).bytes;
}

const GENERATOR_SOURCES = [
  'test/bench/compare/models.ts',
  'test/fixtures/real-shapes.ts',
  'test/fixtures/gguf/blocks.ts',
  'test/fixtures/gguf/vocab.ts',
  'test/fixtures/gguf/writer.ts',
  'src/plan/quant-mix.ts',
  'src/engine/gguf/quantize.ts',
];

function generatorVersion(): string {
  const hash = createHash('sha256');
  for (const file of GENERATOR_SOURCES) hash.update(readFileSync(join(root, file)));
  return hash.digest('hex').slice(0, 12);
}

/**
 * The model's file, written first if this generator has not written it yet (an older
 * generation's file of the same model is removed then).
 */
export function ensureBenchModel(model: BenchModel, log: (line: string) => void): string {
  mkdirSync(BENCH_MODEL_DIR, { recursive: true });
  const name = `${model.id}.${generatorVersion()}.gguf`;
  const path = join(BENCH_MODEL_DIR, name);
  if (!existsSync(path)) {
    log(`writing ${path} (random weights, once)`);
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, benchModelBytes(model));
    renameSync(temporary, path);
    for (const old of readdirSync(BENCH_MODEL_DIR)) {
      if (old.startsWith(`${model.id}.`) && old.endsWith('.gguf') && old !== name) {
        rmSync(join(BENCH_MODEL_DIR, old), { force: true });
      }
    }
  }
  return path;
}
