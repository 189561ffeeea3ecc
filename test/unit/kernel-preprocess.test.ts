import { describe, expect, it } from 'vitest';
import {
  f32Constant,
  preprocess,
  selectLines,
  variantKey,
} from '../../src/engine/gguf/kernels/preprocess';

const SOURCE = [
  'fn a() {}',
  '#if F16',
  'enable_line_f16',
  '#elif TOKENS == 4',
  'four_tokens',
  '#else',
  'other',
  '#endif',
  '#if !F16 && TOKENS != 4',
  'neither',
  '#endif',
  '#if F16 || TOKENS == 1',
  '#if TOKENS == 1',
  'nested_one',
  '#endif',
  'either',
  '#endif',
].join('\n');

describe('kernel preprocessor', () => {
  it('keeps the branch whose condition holds and drops the rest', () => {
    expect(selectLines(SOURCE, { F16: true, TOKENS: 4 }, 't').split('\n')).toEqual([
      'fn a() {}',
      'enable_line_f16',
      'either',
    ]);
    expect(selectLines(SOURCE, { F16: false, TOKENS: 4 }, 't').split('\n')).toEqual([
      'fn a() {}',
      'four_tokens',
    ]);
    expect(selectLines(SOURCE, { F16: false, TOKENS: 1 }, 't').split('\n')).toEqual([
      'fn a() {}',
      'other',
      'neither',
      'nested_one',
      'either',
    ]);
  });

  it('declares every constant before the file, typed as WGSL reads it', () => {
    const code = preprocess('fn b() {}', { WG: 64, F16: false, EPS: f32Constant(1e-6) }, 't');
    expect(code).toBe('const EPS = 9.99999997e-7;\nconst F16 = false;\nconst WG = 64u;\nfn b() {}');
    expect(Math.fround(Number('9.99999997e-7'))).toBe(Math.fround(1e-6));
  });

  it('names the line and the constant of a condition it cannot decide', () => {
    expect(() => selectLines('x\n#if MISSING\n#endif', {}, 'k.wgsl')).toThrow(
      'k.wgsl:2: constant MISSING was not given a value',
    );
    expect(() => selectLines('#if A && B || C\n#endif', { A: 1, B: 1, C: 1 }, 'k')).toThrow(
      /mixes && and \|\|/,
    );
    expect(() => selectLines('#if A\n', { A: 1 }, 'k')).toThrow('k: #if without #endif');
    expect(() => selectLines('#endif', {}, 'k')).toThrow('k:1: #endif without #if');
    expect(() => selectLines('#if A\n#else\n#elif A\n#endif', { A: 1 }, 'k')).toThrow(
      '#elif after #else',
    );
  });

  it('refuses a constant that is not a u32 unless its WGSL spelling is given', () => {
    expect(() => preprocess('', { X: 0.5 })).toThrow(/X = 0.5 is not a u32/);
    expect(() => preprocess('', { X: -1 })).toThrow(/not a u32/);
  });

  it('keys a variant by name and constants, whatever their order', () => {
    expect(variantKey('mv', { B: 2, A: true })).toBe(variantKey('mv', { A: true, B: 2 }));
    expect(variantKey('mv', { A: true, B: 2 })).toBe('mv(A=true,B=2u)');
    expect(variantKey('mv', { B: 3 })).not.toBe(variantKey('mv', { B: 2 }));
  });
});

describe('kernel preprocessor: comparisons and directives', () => {
  it('compares a constant with <, <=, > and >=', () => {
    const source =
      '#if N > 1\nmany\n#endif\n#if N <= 1\nfew\n#endif\n#if N >= 2 && N < 4\nmid\n#endif';
    expect(selectLines(source, { N: 1 }, 't').split('\n')).toEqual(['few']);
    expect(selectLines(source, { N: 2 }, 't').split('\n')).toEqual(['many', 'mid']);
    expect(selectLines(source, { N: 4 }, 't').split('\n')).toEqual(['many']);
  });

  it('keeps enable directives above the constants, as WGSL requires', () => {
    const code = preprocess('#if F16\nenable f16;\n#endif\nalias T = f32;', { F16: true }, 't');
    expect(code.split('\n')).toEqual(['enable f16;', 'const F16 = true;', 'alias T = f32;']);
  });
});
