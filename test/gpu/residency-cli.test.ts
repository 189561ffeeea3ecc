// The infer CLI's residency contract: --resident-layers N, --devices 2 and --weights q8_0 carried out
// by the planner and the engine, with "plan" and "allocated" (bytes per category per device) in its
// JSON, and the same greedy tokens as the fully resident file weights.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { ensureFixture } from '../fixtures/gguf/ensure';

const run = promisify(execFile);

interface InferJson {
  tokens: number[];
  plan: {
    fits: string;
    precision: { compute: string; weights: string };
    layers: { total: number; resident: number; streamed: number; devices: { layers: number[] }[] };
    bytes: { gpu: Record<string, number> };
  };
  allocated: {
    device: string;
    weights: number;
    kv: number;
    scratch: number;
    slots: number;
    total: number;
  }[];
}

async function infer(model: string, ...flags: string[]): Promise<InferJson> {
  const { stdout } = await run(
    'npm',
    [
      'run',
      '--silent',
      'infer',
      '--',
      '--model',
      model,
      '--prompt-tokens',
      '1,2,3',
      '--max-tokens',
      '4',
      '--adapter',
      'swiftshader',
      '--f16',
      'off',
      '--json',
      ...flags,
    ],
    { timeout: 120_000 },
  );
  return JSON.parse(stdout) as InferJson;
}

let f16: string;
let q8: string;

beforeAll(() => {
  f16 = ensureFixture('pair-f16');
  q8 = ensureFixture('pair-q8_0');
});

it('streams, quantizes and splits as asked, and reports the plan and what each device allocated', async () => {
  const [plain, streamed, quantized, reference, split] = await Promise.all([
    infer(f16),
    infer(f16, '--resident-layers', '1'),
    infer(f16, '--weights', 'q8_0', '--resident-layers', '0'),
    infer(q8),
    infer(f16, '--devices', '2'),
  ]);
  expect(plain.plan.fits).toBe('full');
  expect(plain.plan.precision).toEqual({ compute: 'f32', weights: 'file' });
  expect(plain.allocated).toHaveLength(1);
  expect(plain.allocated[0].total).toBe(plain.plan.bytes.gpu.total);

  expect(streamed.plan.layers).toMatchObject({ total: 2, resident: 1, streamed: 1 });
  expect(streamed.allocated[0].slots).toBeGreaterThan(0);
  expect(streamed.allocated[0].slots).toBe(streamed.plan.bytes.gpu.slots);
  expect(streamed.tokens).toEqual(plain.tokens);

  expect(quantized.plan.precision.weights).toBe('q8_0');
  expect(quantized.plan.layers.resident).toBe(0);
  expect(quantized.allocated[0].weights).toBeLessThan(plain.allocated[0].weights);
  expect(quantized.tokens).toEqual(reference.tokens);

  expect(split.plan.layers.devices.map((d) => d.layers)).toEqual([
    [0, 0],
    [1, 1],
  ]);
  expect(split.allocated).toHaveLength(2);
  for (const [i, bytes] of split.allocated.entries()) {
    expect(bytes.kv).toBe(plain.allocated[0].kv / 2);
    expect(bytes.device).toMatch(new RegExp(`#${i}$`));
  }
  expect(split.tokens).toEqual(plain.tokens);
}, 300_000);

it('refuses a resident layer count the model does not have, saying the range', async () => {
  const failure = await infer(f16, '--resident-layers', '3').catch(
    (e: { code: number; stderr: string }) => e,
  );
  expect(failure).toMatchObject({ code: 2 });
  expect((failure as { stderr: string }).stderr).toMatch(
    /--resident-layers must be a whole number from 0 to 2/,
  );
}, 120_000);
