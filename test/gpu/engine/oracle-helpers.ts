// Runs the engine on a fixture file greedily, recording each step's full-vocabulary softmax, for
// comparisons with llama.cpp.
import { parseHeader, checkSupported } from '../../../src/engine/gguf/header';
import { openFileSource } from '../../../src/engine/gguf/source-node';
import { GgufModel, type ModelLoadOptions } from '../../../src/engine/gguf/model';
import { TokenGenerator, type DecodeStats } from '../../../src/engine/gguf/generate';
import { GREEDY } from '../../../src/engine/engine';

export interface EngineRun {
  tokens: number[];
  probabilities: Float64Array[];
  logits: Float32Array[];
  stats: DecodeStats;
}

export function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const p = Float64Array.from(logits, (v) => Math.exp(v - max));
  const sum = p.reduce((a, b) => a + b, 0);
  return p.map((v) => v / sum);
}

export async function loadFixtureModel(
  device: GPUDevice,
  path: string,
  options: Partial<ModelLoadOptions> = {},
): Promise<GgufModel> {
  const source = await openFileSource(path);
  try {
    const header = await parseHeader(source);
    checkSupported(header);
    return await GgufModel.load(device, source, header, {
      contextTokens: 256,
      computePrecision: 'f32',
      ...options,
    });
  } finally {
    await source.close();
  }
}

export async function greedyRun(
  model: GgufModel,
  prompt: number[],
  steps: number,
): Promise<EngineRun> {
  const generator = new TokenGenerator(model);
  const run: EngineRun = { tokens: [], probabilities: [], logits: [], stats: undefined as never };
  for await (const t of generator.generate(prompt, { maxTokens: steps, sampling: GREEDY }, (s) => {
    run.stats = s;
  })) {
    run.tokens.push(t.id);
    const logits = await model.readLogits();
    run.logits.push(logits);
    run.probabilities.push(softmax(logits));
  }
  return run;
}
