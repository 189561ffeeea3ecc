// Command-line parsing shared by the Node entry points (`infer`, `tokenize`, `plan`, `bench`).
//
//   const args = parseCliArgs(process.argv.slice(2), USAGE, {
//     flags: ['json', 'chat'],          // --json: present or not
//     values: ['model', 'text'],        // --model PATH or --model=PATH
//   });
//   args.flags.has('json'); args.values.model; numberFlag(args, 'max-tokens', 64);
//   requireValue(args, 'model');      // the value, or a CliUsageError naming the flag
//
// Anything else on the command line is a CliUsageError carrying the usage text; `runCli` prints
// such errors (and any other failure) to stderr and sets a non-zero exit code.

export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

export interface CliArgs {
  flags: Set<string>;
  values: Record<string, string | undefined>;
}

export function parseCliArgs(
  argv: string[],
  usage: string,
  known: { flags: string[]; values: string[] },
): CliArgs {
  const args: CliArgs = { flags: new Set(), values: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new CliUsageError(`unexpected argument "${arg}"\n${usage}`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (known.flags.includes(name)) {
      if (inline !== undefined) throw new CliUsageError(`--${name} takes no value\n${usage}`);
      args.flags.add(name);
    } else if (known.values.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new CliUsageError(`--${name} needs a value\n${usage}`);
      args.values[name] = value;
    } else {
      throw new CliUsageError(`unknown option --${name}\n${usage}`);
    }
  }
  return args;
}

export function requireValue(args: CliArgs, name: string, usage: string): string {
  const value = args.values[name];
  if (value === undefined) throw new CliUsageError(`--${name} is required\n${usage}`);
  return value;
}

export function numberFlag(args: CliArgs, name: string, fallback: number): number {
  const text = args.values[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value))
    throw new CliUsageError(`--${name}: "${text}" is not a number`);
  return value;
}

/**
 * A comma-separated list of token ids, each a plain decimal below `vocabSize`: "4294967296" is
 * refused rather than wrapped to 0, and "1e3" or "0x10" are not ids.
 */
export function tokenIdsFlag(args: CliArgs, name: string, vocabSize: number): number[] {
  const text = args.values[name] ?? '';
  return text
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((s) => {
      const digits = s.trim();
      if (!/^\d+$/.test(digits)) {
        throw new CliUsageError(`--${name}: "${s}" is not a token id (a whole number from 0)`);
      }
      const id = Number(digits);
      if (id >= vocabSize) {
        throw new CliUsageError(
          `--${name}: ${digits} is not a token of this model: its ${vocabSize}-token vocabulary has ids 0 to ${vocabSize - 1}`,
        );
      }
      return id;
    });
}

/** Runs an entry point: usage errors and failures go to stderr with exit code 2 or 1. */
export function runCli(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    const error = err instanceof Error ? err : new Error(String(err));
    process.stderr.write(`${error.name === 'Error' ? '' : `${error.name}: `}${error.message}\n`);
    process.exitCode = err instanceof CliUsageError ? 2 : 1;
  });
}

export function printJson(value: unknown): Promise<void> {
  return new Promise((resolve, reject) =>
    process.stdout.write(`${JSON.stringify(value)}\n`, (error) =>
      error ? reject(error) : resolve(),
    ),
  );
}
