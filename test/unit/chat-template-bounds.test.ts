// Chat templates are code from the model file. These are built to hang or crash the renderer; each
// must end with a ChatTemplateError naming the bound it hit, after a bounded amount of work.
import { describe, expect, it } from 'vitest';
import { Template } from '@huggingface/jinja';
import {
  DEFAULT_RENDER_LIMITS,
  renderBounded,
  TemplateLimitError,
  type RenderLimits,
} from '../../src/engine/gguf/bounded-template.ts';
import { ChatTemplate, ChatTemplateError } from '../../src/engine/gguf/chat-template.ts';
import { GgufTokenizer } from '../../src/engine/gguf/tokenizer.ts';
import { CHATML_TEMPLATE, LLAMA3_TEMPLATE } from '../fixtures/gguf/templates.ts';

/** A byte-level vocabulary just large enough to build a tokenizer. */
const tokens = [
  ...Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)),
  '<|im_start|>',
  '<|im_end|>',
];
const metadata = (template: string) => ({
  'tokenizer.ggml.model': 'gpt2',
  'tokenizer.ggml.pre': 'qwen2',
  'tokenizer.ggml.tokens': tokens,
  'tokenizer.ggml.token_type': tokens.map((t) => (t.startsWith('<|') ? 3 : 1)),
  'tokenizer.ggml.merges': [],
  'tokenizer.chat_template': template,
});

const NO_CLOCK: RenderLimits = { ...DEFAULT_RENDER_LIMITS, maxMs: Infinity };

function templateFailure(source: string, limits: RenderLimits = NO_CLOCK): ChatTemplateError {
  const chat = new ChatTemplate(metadata(source), new GgufTokenizer(metadata(source)), limits);
  try {
    chat.render([{ role: 'user', content: 'Hi' }]);
  } catch (error) {
    expect(error).toBeInstanceOf(ChatTemplateError);
    return error as ChatTemplateError;
  }
  throw new Error('the template rendered');
}

function limitOf(source: string, limits: RenderLimits): TemplateLimitError {
  try {
    renderBounded(new Template(source), {}, limits);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateLimitError);
    return error as TemplateLimitError;
  }
  throw new Error('the template rendered');
}

describe('hostile chat templates end at a bound', () => {
  it('nested range(100000) loops stop at the step limit, having done at most that much work', () => {
    const source =
      '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}done';
    const error = templateFailure(source);
    expect(error.limit).toBe('steps');
    expect(error.message).toContain(`${DEFAULT_RENDER_LIMITS.maxSteps} steps`);
    // The same loops at a small budget stop there: the count is of work done, not of time.
    const small = { ...NO_CLOCK, maxSteps: 50_000 };
    expect(limitOf(source, small).limit).toBe('steps');
  });

  it('an empty-bodied loop still counts its iterations', () => {
    const source =
      '{% set xs = range(300) %}{% for a in xs %}{% for b in xs %}{% endfor %}{% endfor %}';
    expect(limitOf(source, { ...NO_CLOCK, maxSteps: 50_000 }).limit).toBe('steps');
    // 300 outer iterations of 300 inner ones: 90,000 iterations, counted, and within the default.
    expect(renderBounded(new Template(source), {}, NO_CLOCK).steps).toBeGreaterThan(90_000);
  });

  it('range(10**9) is refused before the list is built (infer --chat used to die in V8)', () => {
    const error = templateFailure('{% for i in range(10**9) %}{{ i }}{% endfor %}');
    expect(error.limit).toBe('length');
    expect(error.message).toContain('range() of 1000000000');
  });

  it('a string doubled forty times stops at the length limit', () => {
    const error = templateFailure(
      "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}",
    );
    expect(error.limit).toBe('length');
  });

  it('a list doubled forty times stops at the work of copying it, or at its length', () => {
    const source =
      '{% set ns = namespace(xs=[1]) %}{% for i in range(40) %}{% set ns.xs = ns.xs + ns.xs %}{% endfor %}{{ ns.xs | length }}';
    expect(templateFailure(source).limit).toBe('steps');
    expect(limitOf(source, { ...NO_CLOCK, maxSteps: Infinity }).limit).toBe('length');
  });

  it('a render past its time budget stops at the clock (a fake clock, advanced per look)', () => {
    let clock = 0;
    const limits = { ...DEFAULT_RENDER_LIMITS, maxMs: 10, now: () => (clock += 6) };
    const error = limitOf('{% for i in range(100000) %}{{ i }}{% endfor %}', limits);
    expect(error.limit).toBe('time');
    expect(error.message).toContain('10 ms');
  });

  it('raise_exception still reaches the caller as a template error, not a limit', () => {
    const error = templateFailure("{{ raise_exception('Roles must alternate') }}");
    expect(error.limit).toBeUndefined();
    expect(error.message).toContain('Roles must alternate');
  });
});

describe('real templates render unchanged within the bounds', () => {
  const conversation = Array.from({ length: 2000 }, (_, i) => ({
    role: i % 2 ? 'assistant' : 'user',
    content: `message ${i}`,
  }));

  it.each([
    ['ChatML', CHATML_TEMPLATE],
    ['Llama 3', LLAMA3_TEMPLATE],
  ])('%s over 2,000 messages: same text as the unbounded library', (_name, source) => {
    const context = {
      messages: conversation,
      add_generation_prompt: true,
      bos_token: '<s>',
      eos_token: '</s>',
    };
    const bounded = renderBounded(new Template(source), context, NO_CLOCK);
    expect(bounded.text).toBe(new Template(source).render(context));
    expect(bounded.steps).toBeLessThan(DEFAULT_RENDER_LIMITS.maxSteps / 20);
  });

  it('strftime_now and namespace work as in the library', () => {
    const text = renderBounded(
      new Template("{% set ns = namespace(n=2) %}{{ ns.n }} {{ strftime_now('%Y') }}"),
      {},
    ).text;
    expect(text).toBe(`2 ${new Date().getFullYear()}`);
  });
});
