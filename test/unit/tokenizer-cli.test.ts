import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureFixtures } from '../fixtures/gguf/ensure.ts';
import { closeOracle, tokenize } from '../fixtures/llama-oracle.ts';

const run = promisify(execFile);
const TEXT = '<|im_start|>user\nHello, 世界 🙂\n\n  def f(x):  return x<|im_end|>';

function cli(...args: string[]) {
  return run('npm', ['run', '--silent', 'tokenize', '--', ...args], { cwd: process.cwd() });
}

describe('tokenize CLI', () => {
  afterAll(closeOracle);

  it('prints {"ids":[...]} without BOS, matching llama.cpp', async () => {
    for (const id of ['qwen2-q8_0', 'llama-spm-f16']) {
      const path = ensureFixtures()[id];
      const { stdout } = await cli('--model', path, '--text', TEXT, '--json');
      expect(JSON.parse(stdout)).toEqual({ ids: await tokenize(path, TEXT, { special: true }) });
    }
  }, 60_000);

  it('fails with a usage message and exit code 2 on a missing --model', async () => {
    const failure = await cli('--text', 'x', '--json').catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toContain('--model is required');
  }, 60_000);
});
