// The arithmetic and command line of `npm run bench:compare` (the timings themselves are a
// benchmark, not a test): medians and spreads, the memory bound, the "done when" ratios, the
// per-kernel grouping, the card bandwidth table and argument parsing.
import { describe, expect, it } from 'vitest';
import { CliUsageError } from '../../src/cli/args.ts';
import { cardBandwidth } from '../bench/compare/gpu-bandwidth.ts';
import { parseCompareArgs, parseContender } from '../bench/compare/options.ts';
import { kernelTimes } from '../bench/compare/profile.ts';
import {
  achievedGBps,
  bandwidthFor,
  decodeMedian,
  doneWhen,
  median,
  spread,
  summarize,
  type RunSample,
} from '../bench/compare/stats.ts';

const MODELS = ['smollm2-135m-q8_0', 'smollm2-135m-q4_k_m', 'qwen2.5-0.5b-q4_k_m'];

describe('statistics', () => {
  it('takes the middle value, or the mean of the middle two', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 10])).toBe(3.5);
    expect(() => median([])).toThrow(/no values/);
  });

  it('gives the range of repeats and how far it is from the median', () => {
    expect(spread([10, 8, 12])).toEqual({ median: 10, min: 8, max: 12, relative: 0.4, count: 3 });
    expect(spread([7]).relative).toBe(0);
  });

  it('counts bytes per token times tokens per second as GB/s', () => {
    expect(achievedGBps(143e6, 10)).toBeCloseTo(1.43, 10);
  });

  it('bounds a contender by the bandwidth measured with the most threads it does not exceed', () => {
    const measured = new Map([
      [1, 28],
      [2, 40],
    ]);
    expect(bandwidthFor(1, measured)).toBe(28);
    expect(bandwidthFor(2, measured)).toBe(40);
    expect(bandwidthFor(8, measured)).toBe(40);
    expect(() => bandwidthFor(1, new Map())).toThrow(/no bandwidth/);
  });

  it('summarizes repeats per model, contender and prompt length', () => {
    const samples: RunSample[] = [
      {
        model: 'm',
        contender: 'a',
        prompt: 16,
        prefillTokensPerSecond: 10,
        decodeTokensPerSecond: 2,
      },
      {
        model: 'm',
        contender: 'b',
        prompt: 16,
        prefillTokensPerSecond: 50,
        decodeTokensPerSecond: 9,
      },
      {
        model: 'm',
        contender: 'a',
        prompt: 16,
        prefillTokensPerSecond: 14,
        decodeTokensPerSecond: 4,
      },
      {
        model: 'm',
        contender: 'a',
        prompt: 128,
        prefillTokensPerSecond: 30,
        decodeTokensPerSecond: 3,
      },
    ];
    const summaries = summarize(samples);
    expect(summaries.map((s) => [s.contender, s.prompt, s.prefill.median, s.decode.count])).toEqual(
      [
        ['a', 16, 12, 2],
        ['b', 16, 50, 1],
        ['a', 128, 30, 1],
      ],
    );
    expect(decodeMedian(samples, 'm', 'a')).toBe(3);
    expect(decodeMedian(samples, 'm', 'c')).toBeUndefined();
  });
});

describe("issue 10's done-when ratios", () => {
  const sample = (
    contender: string,
    prompt: number,
    prefill: number,
    decode: number,
  ): RunSample => ({
    model: 'm',
    contender,
    prompt,
    prefillTokensPerSecond: prefill,
    decodeTokensPerSecond: decode,
  });
  const samples = [
    sample('lavapipe-f32', 16, 100, 20),
    sample('lavapipe-f32', 512, 250, 16),
    sample('wllama-2t', 16, 30, 15),
    sample('wllama-2t', 512, 100, 14),
  ];

  it('divides prefill at 512 by our decode and by the reference, and compares decodes', () => {
    const structure = {
      weightBytesPerToken: 104e6,
      modelDecodeBytes: 100e6,
      submissionsPerToken: 1,
    };
    const c = doneWhen(samples, 'm', 'lavapipe-f32', 'wllama-2t', structure);
    expect(c.map((x) => [x.value, x.met])).toEqual([
      [250 / 18, true],
      [2.5, true],
      [18 / 14.5, true],
      [1.04, true],
      [1, true],
    ]);
  });

  it('says what is not met and what was not measured', () => {
    const structure = {
      weightBytesPerToken: 110e6,
      modelDecodeBytes: 100e6,
      submissionsPerToken: 2,
    };
    const short = samples.filter((s) => s.prompt !== 512);
    const c = doneWhen(short, 'm', 'lavapipe-f32', 'wllama-2t', structure);
    expect(c.map((x) => x.met)).toEqual([undefined, undefined, true, false, false]);
    expect(c[0].value).toBeUndefined();
    expect(doneWhen(samples, 'm', 'lavapipe-f32', 'wllama-2t', undefined)[3].value).toBeUndefined();
  });
});

describe('per-kernel profile', () => {
  it('groups dispatches by role over the layers, each at its median over the rounds', () => {
    const names = ['embed', 'blk.0.qkv', 'blk.0.ffn_down', 'blk.1.qkv', 'blk.1.ffn_down', 'output'];
    const rounds = [
      [0.1, 2, 1, 2, 1, 5],
      [0.1, 4, 1, 2, 3, 5],
      [0.1, 3, 1, 2, 2, 5],
    ];
    const times = kernelTimes(names, rounds);
    expect(times.map((t) => [t.role, t.dispatches, t.ms])).toEqual([
      ['qkv', 2, 5],
      ['output', 1, 5],
      ['ffn_down', 2, 3],
      ['embed', 1, 0.1],
    ]);
    expect(times.reduce((a, t) => a + t.share, 0)).toBeCloseTo(1, 10);
    expect(times[0].share).toBeCloseTo(5 / 13.1, 10);
  });
});

describe('card bandwidth table', () => {
  it('names the data-sheet figure of the card Dawn reports', () => {
    expect(cardBandwidth('NVIDIA H200')?.gbps).toBe(4800);
    expect(cardBandwidth('NVIDIA H100 PCIe')?.gbps).toBe(2000);
    expect(cardBandwidth('NVIDIA H100 80GB HBM3')?.gbps).toBe(3350);
    expect(cardBandwidth('NVIDIA A100-SXM4-80GB')?.gbps).toBe(2039);
    expect(cardBandwidth('NVIDIA L40S')?.gbps).toBe(864);
    expect(cardBandwidth('NVIDIA L4')?.gbps).toBe(300);
    expect(cardBandwidth('llvmpipe (LLVM 15.0.6, 256 bits)')).toBeUndefined();
  });
});

describe('command line', () => {
  it('runs everything by default', () => {
    const o = parseCompareArgs([], MODELS);
    expect(o.models).toEqual(['smollm2-135m-q8_0', 'smollm2-135m-q4_k_m', 'qwen2.5-0.5b-q4_k_m']);
    expect(o.contenders.map((c) => c.id)).toEqual([
      'lavapipe-f32',
      'lavapipe-f16',
      'swiftshader-f32',
      'llama.cpp-1t',
      'llama.cpp-2t',
      'wllama-1t',
      'wllama-2t',
    ]);
    expect(o.maxRunSeconds).toBe(Infinity);
    expect([o.prompts, o.decode, o.repeats, o.profile, o.json]).toEqual([
      [16, 128, 512],
      64,
      3,
      true,
      false,
    ]);
  });

  it('makes --quick short and lets each option override it', () => {
    const quick = parseCompareArgs(['--quick'], MODELS);
    expect([quick.models, quick.prompts, quick.decode, quick.repeats]).toEqual([
      ['smollm2-135m-q8_0'],
      [16, 128],
      16,
      1,
    ]);
    const o = parseCompareArgs(
      [
        '--quick',
        '--prompts',
        '512',
        '--decode=8',
        '--contenders',
        'gpu-f16,llama.cpp-16t',
        '--json',
        '--no-profile',
        '--max-run-seconds',
        '300',
      ],
      MODELS,
    );
    expect(o.prompts).toEqual([512]);
    expect(o.decode).toBe(8);
    expect(o.contenders).toEqual([
      { kind: 'engine', id: 'gpu-f16', adapter: 'gpu', precision: 'f16' },
      { kind: 'llama.cpp', id: 'llama.cpp-16t', threads: 16 },
    ]);
    expect([o.json, o.profile, o.maxRunSeconds]).toEqual([true, false, 300]);
  });

  it('reads thread counts from contender names', () => {
    expect(parseContender('wllama-2t')).toEqual({ kind: 'wllama', id: 'wllama-2t', threads: 2 });
    expect(parseContender('lavapipe-f16')).toMatchObject({ adapter: 'lavapipe', precision: 'f16' });
  });

  it.each([
    [['--contenders', 'swiftshader-f16'], /no shader-f16/],
    [['--contenders', 'wllama-0t'], /unknown contender "wllama-0t"/],
    [['--contenders', 'lavapipe-f32,lavapipe-f32'], /named twice/],
    [['--models', 'gpt-5'], /unknown model "gpt-5"/],
    [['--prompts', '16,abc'], /"abc" is not a whole number/],
    [['--repeats', '0'], /"0" is not a whole number of at least 1/],
    [['--decode', '1.5'], /"1.5" is not a whole number/],
    [['--models', ','], /empty list/],
    [['--fast'], /unknown option --fast/],
  ])('refuses %j with a usage error', (argv, message) => {
    expect(() => parseCompareArgs(argv, MODELS)).toThrow(CliUsageError);
    expect(() => parseCompareArgs(argv, MODELS)).toThrow(message);
  });
});
