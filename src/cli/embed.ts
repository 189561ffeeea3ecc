// npm run --silent embed -- --model PATH --text T [--text T2 ...] [--f16 auto|on|off]
//   [--adapter swiftshader|lavapipe] [--context N] --json
// Embeds each text with the GGUF engine's embedding mode on dawn.node and prints
// {"vectors":[[...],...],"pooling":"mean|cls|last","dims":N}: one L2-normalised vector per text,
// in the order given. Without --json it prints one line per text: its first values and norm.
import { Embedder } from '../engine/gguf/embedding';
import { openFileSource } from '../engine/gguf/source-node';
import { CliUsageError, numberFlag, parseCliArgs, printJson, requireValue, runCli } from './args';
import { openCliDevice, precisionChoice } from './engine-cli';

const USAGE =
  'usage: npm run --silent embed -- --model PATH --text T [--text T2 ...] [--f16 auto|on|off] ' +
  '[--adapter swiftshader|lavapipe] [--context N] --json';

/** `--text` may repeat; every other flag is parsed by the shared parser. */
function splitTexts(argv: string[]): { texts: string[]; rest: string[] } {
  const texts: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--text') {
      if (argv[i + 1] === undefined) throw new CliUsageError(`--text needs a value\n${USAGE}`);
      texts.push(argv[++i]);
    } else if (argv[i].startsWith('--text=')) texts.push(argv[i].slice('--text='.length));
    else rest.push(argv[i]);
  }
  return { texts, rest };
}

runCli(async () => {
  const { texts, rest } = splitTexts(process.argv.slice(2));
  const args = parseCliArgs(rest, USAGE, {
    flags: ['json'],
    values: ['model', 'f16', 'adapter', 'context'],
  });
  const path = requireValue(args, 'model', USAGE);
  if (texts.length === 0) throw new CliUsageError(`give at least one --text\n${USAGE}`);
  const source = await openFileSource(path).catch((err: Error) => {
    throw new Error(`Cannot open the model file ${path}: ${err.message}`);
  });
  try {
    const device = await openCliDevice(args);
    const embedder = await Embedder.load(device, source, {
      precision: precisionChoice(args),
      contextTokens: args.values.context === undefined ? undefined : numberFlag(args, 'context', 0),
    });
    const vectors = await embedder.embed(texts);
    if (args.flags.has('json')) {
      await printJson({
        vectors: vectors.map((v) => Array.from(v)),
        pooling: embedder.pooling,
        dims: embedder.dims,
      });
    } else {
      vectors.forEach((v, i) =>
        process.stdout.write(
          `${i}\t${Array.from(v.subarray(0, 4), (x) => x.toFixed(4)).join(' ')} ... (${v.length} dims, ${embedder.pooling} pooling)\n`,
        ),
      );
    }
    embedder.unload();
    device.device.destroy();
  } finally {
    await source.close();
  }
});
