// The one way a kernel is specialised: a real `.wgsl` file plus a record of constants. Each constant
// becomes a `const NAME = literal;` declaration placed before the file, and `#if` blocks keep or
// drop lines by those constants, so a kernel variant is its file and its constants, nothing else.
//
// Directives, each on a line of its own:
//   #if EXPR   #elif EXPR   #else   #endif
// EXPR is terms joined by `&&` or by `||` (not both in one expression); a term is `NAME`
// (non-zero / true), `!NAME`, or `NAME OP LITERAL` with OP one of `== != < <= > >=`. Every NAME
// must be given. WGSL wants `enable` / `requires` / `diagnostic` directives before any
// declaration, so the kept lines holding them move above the constants.

export type KernelConstant = number | boolean | KernelLiteral;

/** A constant with its WGSL spelling chosen by the host (an f32, or an integer typed as i32). */
export interface KernelLiteral {
  wgsl: string;
  value: number;
}

export type KernelConstants = Readonly<Record<string, KernelConstant>>;

/** An f32 constant, written as WGSL reads it back exactly. */
export function f32Constant(value: number): KernelLiteral {
  const text = Math.fround(value).toPrecision(9);
  return { wgsl: text.includes('.') || text.includes('e') ? text : `${text}.0`, value };
}

function literal(name: string, value: KernelConstant): string {
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return value.wgsl;
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new Error(`kernel constant ${name} = ${value} is not a u32; pass f32Constant(...)`);
  }
  return `${value}u`;
}

function numeric(value: KernelConstant): number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return typeof value === 'object' ? value.value : value;
}

const TERM = /^(!?)\s*([A-Z_][A-Z0-9_]*)\s*(?:(==|!=|<=|>=|<|>)\s*(-?[0-9.]+))?$/;

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

function evaluate(expr: string, constants: KernelConstants, where: string): boolean {
  const hasAnd = expr.includes('&&');
  const hasOr = expr.includes('||');
  if (hasAnd && hasOr) throw new Error(`${where}: mixes && and || in "${expr}"`);
  const terms = expr.split(hasOr ? '||' : '&&').map((t) => t.trim());
  const results = terms.map((term) => {
    const m = TERM.exec(term);
    if (!m) throw new Error(`${where}: cannot read the condition "${term}"`);
    const [, not, name, op, operand] = m;
    if (!(name in constants)) throw new Error(`${where}: constant ${name} was not given a value`);
    const value = numeric(constants[name]);
    if (op) {
      if (not) throw new Error(`${where}: "!" cannot precede a comparison ("${term}")`);
      return COMPARE[op](value, Number(operand));
    }
    return not ? value === 0 : value !== 0;
  });
  return hasOr ? results.some(Boolean) : results.every(Boolean);
}

interface Frame {
  /** The enclosing block keeps its lines. */
  parentActive: boolean;
  /** A branch of this #if chain has been taken. */
  taken: boolean;
  active: boolean;
  sawElse: boolean;
}

/** Keeps the lines of `source` whose `#if` conditions hold; `name` labels errors. */
export function selectLines(source: string, constants: KernelConstants, name: string): string {
  const out: string[] = [];
  const stack: Frame[] = [];
  const lines = source.split('\n');
  lines.forEach((line, i) => {
    const where = `${name}:${i + 1}`;
    const directive = /^\s*#(if|elif|else|endif)\b\s*(.*)$/.exec(line);
    const active = stack.length === 0 || stack[stack.length - 1].active;
    if (!directive) {
      if (active) out.push(line);
      return;
    }
    const [, kind, rest] = directive;
    const top = stack[stack.length - 1];
    if (kind === 'if') {
      const holds = active && evaluate(rest, constants, where);
      stack.push({ parentActive: active, taken: holds, active: holds, sawElse: false });
      return;
    }
    if (!top) throw new Error(`${where}: #${kind} without #if`);
    if (kind === 'elif') {
      if (top.sawElse) throw new Error(`${where}: #elif after #else`);
      const holds = top.parentActive && !top.taken && evaluate(rest, constants, where);
      top.active = holds;
      top.taken ||= holds;
    } else if (kind === 'else') {
      if (top.sawElse) throw new Error(`${where}: second #else`);
      top.sawElse = true;
      top.active = top.parentActive && !top.taken;
      top.taken = true;
    } else {
      stack.pop();
    }
  });
  if (stack.length) throw new Error(`${name}: #if without #endif`);
  return out.join('\n');
}

/** The constants as WGSL declarations, in a stable (sorted) order. */
export function constantDeclarations(constants: KernelConstants): string {
  return Object.keys(constants)
    .sort()
    .map((key) => `const ${key} = ${literal(key, constants[key])};`)
    .join('\n');
}

/**
 * A kernel variant's WGSL: its kept directives, its constants declared, then the rest of the file
 * with its `#if` blocks resolved.
 */
export function preprocess(source: string, constants: KernelConstants, name = 'kernel'): string {
  const lines = selectLines(source, constants, name).split('\n');
  const isDirective = (line: string) => DIRECTIVE.test(line);
  const declarations = constantDeclarations(constants);
  return [
    ...lines.filter(isDirective),
    ...(declarations ? [declarations] : []),
    ...lines.filter((line) => !isDirective(line)),
  ].join('\n');
}

const DIRECTIVE = /^\s*(enable|requires|diagnostic)\b/;

/** A stable text key of a variant: its kernel name and constants, for pipeline caches and reports. */
export function variantKey(name: string, constants: KernelConstants): string {
  const parts = Object.keys(constants)
    .sort()
    .map((key) => `${key}=${literal(key, constants[key])}`);
  return `${name}(${parts.join(',')})`;
}
