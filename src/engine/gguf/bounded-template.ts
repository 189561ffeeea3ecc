// Renders a parsed Jinja template (@huggingface/jinja) within limits. A chat template comes from
// the model file, so it is untrusted code: `{% for i in range(100000) %}` nested twice spins for
// hours, `range(10**9)` asks V8 for an array it cannot hold and kills the process, and doubling a
// string forty times fills memory. The interpreter here counts its work and gives up with a
// TemplateLimitError as soon as any bound is passed, so a render always ends, and soon: nothing
// that waits for it (a Stop, an unload, a model switch) can wait long.

import { Environment, Interpreter, type Template } from '@huggingface/jinja';

export interface RenderLimits {
  /**
   * Work in steps: one per statement or expression evaluated, ITERATION_STEPS per item of every
   * loop, and one per item of every list or mapping built (by `range`, `+`, a filter, a literal).
   */
  maxSteps: number;
  /** The longest string, list or mapping any step may produce, the output included. */
  maxLength: number;
  /** Wall-clock budget, for work the step count does not see (long string operations). */
  maxMs: number;
  /** The clock `maxMs` is measured on. */
  now?: () => number;
}

/**
 * Real templates take 20 to 100 steps per message and output a few characters per token of
 * context, so these bounds leave room for conversations of ten thousand messages; a step costs
 * about 1-2 microseconds on a slow machine, so the step bound ends any render within seconds.
 */
export const DEFAULT_RENDER_LIMITS: RenderLimits = {
  maxSteps: 1_000_000,
  maxLength: 4_000_000,
  maxMs: 3_000,
};

/** A loop iteration costs the interpreter about as much as three evaluated expressions. */
const ITERATION_STEPS = 3;

export type TemplateLimit = 'steps' | 'length' | 'time';

export class TemplateLimitError extends Error {
  override readonly name = 'TemplateLimitError';
  constructor(
    readonly limit: TemplateLimit,
    message: string,
  ) {
    super(message);
  }
}

/** How many steps pass between two looks at the clock. */
const CLOCK_INTERVAL = 4096;

/** Node types that build a new value, whose size is work done. */
const BUILDERS = new Set([
  'ArrayLiteral',
  'TupleLiteral',
  'ObjectLiteral',
  'BinaryExpression',
  'CallExpression',
  'FilterExpression',
]);

interface RuntimeValueLike {
  type: string;
  value: unknown;
}

interface NodeLike {
  type: string;
  iterable?: NodeLike & { lhs?: NodeLike };
}

/** Items of a list or mapping: work to build or walk it (strings are ropes, built in O(1)). */
function itemsOf(value: RuntimeValueLike): number {
  const v = value.value;
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  return 0;
}

function lengthOf(value: RuntimeValueLike): number {
  return typeof value.value === 'string' ? value.value.length : itemsOf(value);
}

class BoundedInterpreter extends Interpreter {
  steps = 0;
  private nextClockCheck = CLOCK_INTERVAL;
  private readonly deadline: number;
  private readonly now: () => number;
  /** Loop iterables: their items are iterations. */
  private readonly loopSources = new WeakSet<object>();

  constructor(
    env: Environment,
    private readonly limits: RenderLimits,
  ) {
    super(env);
    this.now = limits.now ?? (() => performance.now());
    this.deadline = this.now() + limits.maxMs;
  }

  charge(steps: number): void {
    this.steps += steps;
    if (this.steps > this.limits.maxSteps) {
      throw new TemplateLimitError(
        'steps',
        `the chat template did more than ${this.limits.maxSteps} steps of work (loops too long, or nested too deep)`,
      );
    }
    if (this.steps >= this.nextClockCheck) {
      this.nextClockCheck = this.steps + CLOCK_INTERVAL;
      if (this.now() > this.deadline) {
        throw new TemplateLimitError(
          'time',
          `the chat template ran for more than ${this.limits.maxMs} ms`,
        );
      }
    }
  }

  override evaluate(
    statement: Parameters<Interpreter['evaluate']>[0],
    environment: Environment,
  ): ReturnType<Interpreter['evaluate']> {
    this.charge(1);
    const node = statement as NodeLike | undefined;
    if (node?.type === 'For' && node.iterable) {
      const iterable =
        node.iterable.type === 'SelectExpression' ? node.iterable.lhs : node.iterable;
      if (iterable) this.loopSources.add(iterable);
    }
    const value = super.evaluate(statement, environment) as RuntimeValueLike;
    const length = lengthOf(value);
    if (length > this.limits.maxLength) {
      throw new TemplateLimitError(
        'length',
        `the chat template built a value of ${length} items or characters, more than ${this.limits.maxLength}`,
      );
    }
    if (node && this.loopSources.has(node)) this.charge(ITERATION_STEPS * itemsOf(value));
    else if (node && BUILDERS.has(node.type)) this.charge(itemsOf(value));
    return value as ReturnType<Interpreter['evaluate']>;
  }

  /** Python's range, refusing before it allocates a list longer than the budget left. */
  range(start: number, stop?: number, step = 1): number[] {
    if (stop === undefined) [start, stop] = [0, start];
    if (![start, stop, step].every(Number.isInteger)) throw new Error('range() takes integers');
    if (step === 0) throw new Error('range() step must not be zero');
    const count = Math.max(0, Math.ceil((stop - start) / step));
    if (count > this.limits.maxLength) {
      throw new TemplateLimitError(
        'length',
        `the chat template asked for range() of ${count} numbers, more than ${this.limits.maxLength}`,
      );
    }
    this.charge(count);
    return Array.from({ length: count }, (_, i) => start + i * step);
  }
}

const MONTHS_LONG = new Intl.DateTimeFormat(undefined, { month: 'long' });
const MONTHS_SHORT = new Intl.DateTimeFormat(undefined, { month: 'short' });

/** The subset of strftime the library offers templates as `strftime_now`. */
function strftimeNow(format: string): string {
  const date = new Date();
  const pad2 = (n: number) => String(n).padStart(2, '0');
  return format.replace(/%[YmdbBHM%]/g, (token) => {
    switch (token) {
      case '%Y':
        return String(date.getFullYear());
      case '%m':
        return pad2(date.getMonth() + 1);
      case '%d':
        return pad2(date.getDate());
      case '%b':
        return MONTHS_SHORT.format(date);
      case '%B':
        return MONTHS_LONG.format(date);
      case '%H':
        return pad2(date.getHours());
      case '%M':
        return pad2(date.getMinutes());
      default:
        return '%';
    }
  });
}

export interface BoundedRender {
  text: string;
  /** Steps the render took, against `limits.maxSteps`. */
  steps: number;
}

/**
 * `template.render(context)` with the library's globals, except that `range` and every step of
 * the interpreter count against `limits`. Throws TemplateLimitError past a limit.
 */
export function renderBounded(
  template: Template,
  context: Record<string, unknown>,
  limits: RenderLimits = DEFAULT_RENDER_LIMITS,
): BoundedRender {
  const env = new Environment();
  const interpreter = new BoundedInterpreter(env, limits);
  const globals: Record<string, unknown> = {
    false: false,
    true: true,
    none: null,
    False: false,
    True: true,
    None: null,
    raise_exception: (message: unknown) => {
      throw new Error(String(message));
    },
    range: (start: number, stop?: number, step?: number) => interpreter.range(start, stop, step),
    strftime_now: strftimeNow,
    ...context,
  };
  for (const [name, value] of Object.entries(globals)) env.set(name, value);
  const result = interpreter.run(template.parsed) as RuntimeValueLike;
  return { text: String(result.value), steps: interpreter.steps };
}
