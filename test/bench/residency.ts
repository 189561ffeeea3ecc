// `npm run bench:residency`: the planner's decode speed beside the engine's measured one on
// SwiftShader, for 0, 1 and all layers of the llama-spm-f16 fixture resident. Upload bandwidth,
// the round trip and the weight read rate are measured in the same run (the rate from the fully
// resident decode); each prediction is then made with those figures. Timing on a shared CPU-backed
// adapter swings widely between runs, so this prints figures (docs/performance.md) and asserts
// nothing; test/gpu/residency-streaming.test.ts checks the deterministic counts.
import { existsSync } from 'node:fs';
import { ensureFixture } from '../fixtures/gguf/ensure';
import { openFileSource } from '../../src/engine/gguf/source-node';
import { checkSupported, parseHeader } from '../../src/engine/gguf/header';
import { benchResidencies } from '../../src/cli/residency-bench';
import { openEngineDevice } from '../../src/gpu/device';
import { requestNodeAdapter } from '../../src/gpu/node-gpu';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const FIXTURE = 'llama-spm-f16';

async function main(): Promise<void> {
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  const device = await openEngineDevice(await requestNodeAdapter('swiftshader'), {
    disableF16: true,
  });
  const source = await openFileSource(ensureFixture(FIXTURE));
  try {
    const header = await parseHeader(source);
    checkSupported(header);
    const layers = header.hparams.blockCount;
    const { calibration, runs } = await benchResidencies(
      {
        device,
        source,
        header,
        wishes: { contextTokens: 256, compute: 'f32', weights: 'file' },
        promptLength: 8,
        decodeTokens: 8,
        rounds: 6,
        lanesPerRow: 1,
      },
      [0, 1, layers],
    );
    const info = device.adapterInfo;
    const lines = [
      `device: ${info.vendor} ${info.architecture} ${info.description}`.trim(),
      `model: ${FIXTURE} (${layers} layers)`,
      `upload ${(calibration.uploadBytesPerSecond / 1e9).toFixed(2)} GB/s, round trip ` +
        `${(calibration.roundTripSeconds * 1000).toFixed(2)} ms, weight reads ` +
        `${(calibration.computeBytesPerSecond / 1e9).toFixed(3)} GB/s`,
      'resident | streamed bytes/token | submissions/token | measured tok/s | predicted tok/s | off',
      ...runs.map((r) => {
        const predicted = r.plan.predicted.decodeTokensPerSecond;
        const off = ((r.tokensPerSecond - predicted) / predicted) * 100;
        return [
          r.resident,
          r.uploadBytesPerToken,
          r.submissionsPerToken,
          r.tokensPerSecond.toFixed(3),
          predicted.toFixed(3),
          `${off >= 0 ? '+' : ''}${off.toFixed(1)}%`,
        ].join(' | ');
      }),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    await source.close();
    device.device.destroy();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
