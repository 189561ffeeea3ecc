// `npm run --silent tokenize -- --model PATH --text TEXT --json` prints {"ids":[...]}: the model's
// tokenization of TEXT without an added BOS/EOS, special tokens written in the text parsed to
// their ids (as for rendered chat templates). Without --json it prints one id and piece per line.

import { parseHeader } from '../engine/gguf/header.ts';
import { openFileSource } from '../engine/gguf/source-node.ts';
import { GgufTokenizer } from '../engine/gguf/tokenizer.ts';
import { parseCliArgs, printJson, requireValue, runCli } from './args.ts';

const USAGE = 'usage: npm run --silent tokenize -- --model PATH --text TEXT [--no-special] --json';

runCli(async () => {
  const args = parseCliArgs(process.argv.slice(2), USAGE, {
    flags: ['json', 'no-special'],
    values: ['model', 'text'],
  });
  const model = requireValue(args, 'model', USAGE);
  const text = requireValue(args, 'text', USAGE);
  const source = await openFileSource(model).catch((err: Error) => {
    throw new Error(`Cannot open the model file ${model}: ${err.message}`);
  });
  let tokenizer: GgufTokenizer;
  try {
    tokenizer = new GgufTokenizer((await parseHeader(source)).metadata);
  } finally {
    await source.close();
  }
  const ids = tokenizer.encode(text, {
    addBos: false,
    parseSpecial: !args.flags.has('no-special'),
  });
  if (args.flags.has('json')) {
    await printJson({ ids });
  } else {
    for (const id of ids) process.stdout.write(`${id}\t${JSON.stringify(tokenizer.tokens[id])}\n`);
  }
});
