// The infer CLI on files built to break it: a chat template asking for range(10**9) used to kill
// the process with a V8 fatal error, and --prompt-tokens 4294967296 wrapped to token 0. Each now
// ends with exit code 1 or 2 and a message that names the problem.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_DIR, ensureFixture, generatorVersion } from '../fixtures/gguf/ensure';
import { FIXTURES, buildFixture } from '../fixtures/gguf/models';
import { str, writeGguf } from '../fixtures/gguf/writer';

const run = promisify(execFile);

async function infer(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      'npm',
      ['run', '--silent', 'infer', '--', '--adapter', 'swiftshader', '--json', ...args],
      { env: { ...process.env }, maxBuffer: 1 << 20 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('infer on hostile input', () => {
  let hostile: string;
  beforeAll(() => {
    const built = buildFixture(FIXTURES.find((f) => f.id === 'qwen2-q8_0')!);
    const bytes = writeGguf(
      {
        ...built.metadata,
        'tokenizer.chat_template': str('{% for i in range(10**9) %}{{ i }}{% endfor %}'),
      },
      built.tensors,
    ).bytes;
    mkdirSync(FIXTURE_DIR, { recursive: true });
    hostile = join(FIXTURE_DIR, `hostile-template.${generatorVersion()}.gguf`);
    writeFileSync(hostile, bytes);
  });

  it('--chat with a range(10**9) template: a named template error, not a V8 fatal error', async () => {
    const result = await infer([
      '--model',
      hostile,
      '--chat',
      '--prompt',
      'Hi',
      '--max-tokens',
      '1',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('chat template was stopped');
    expect(result.stderr).not.toMatch(/FATAL ERROR|Fatal JavaScript|heap out of memory/i);
  });

  // Ids past the vocabulary below 2^32 are refused the same way (test/unit/prompt-tokens.test.ts).
  it.each(['4294967296'])('--prompt-tokens %s: refused, not wrapped to 0', async (id) => {
    const result = await infer([
      '--model',
      ensureFixture('qwen2-q8_0'),
      '--prompt-tokens',
      `1,${id}`,
      '--max-tokens',
      '1',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${id} is not a token of this model`);
    expect(result.stdout).toBe('');
  });
});
