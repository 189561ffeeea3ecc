// The `plan` CLI contract: exactly the published JSON fields, from a header-only file or from a URL
// of which only the header is requested.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planJson } from '../../src/plan/contract.ts';
import { parseDeviceFile, withUserBudget } from '../../src/plan/device.ts';
import { NO_MARGIN } from '../../src/plan/budget.ts';
import { planModel } from '../../src/plan/planner.ts';
import { chooseEngine, parseCpuFile, withEngineChoice } from '../../src/plan/cpu.ts';
import { realShape, realShapeFile, realShapeHeader } from '../fixtures/real-shapes.ts';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'plan-cli-'));
const MiB = 2 ** 20;

function shapeFile(id: string): string {
  const path = join(dir, `${id}.gguf`);
  writeFileSync(path, realShapeFile(realShape(id)));
  return path;
}

async function plan(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', './src/cli/register.mjs', 'src/cli/plan.ts', ...args],
      {
        timeout: 60_000,
      },
    );
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

/** Every key path of a JSON value, arrays reduced to their first element. */
function shape(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.length ? shape(value[0], `${path}[]`) : [`${path}[]`];
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => shape(v, path ? `${path}.${k}` : k));
  }
  return [`${path}:${typeof value}`];
}

const CONTRACT = [
  'fits:string',
  'precision.compute:string',
  'precision.weights:string',
  'contextTokens:number',
  'layers.total:number',
  'layers.resident:number',
  'layers.streamed:number',
  'layers.devices[].layers[]:number',
  'bytes.gpu.weights:number',
  'bytes.gpu.kv:number',
  'bytes.gpu.scratch:number',
  'bytes.gpu.slots:number',
  'bytes.gpu.total:number',
  'bytes.host.weights:number',
  'kvBytesPerToken:number',
  'predicted.decodeTokensPerSecond:number',
  'predicted.bound:string',
  'predicted.cpuDecodeTokensPerSecond:number',
  'engine:string',
  'reasons[]:string',
];

// Each case starts Node with the TypeScript loader (about a second, more on a busy machine).
describe('plan CLI', { timeout: 60_000 }, () => {
  it('prints exactly the contract’s fields through npm run, matching the planner', async () => {
    const model = shapeFile('Llama-3.1-8B-Q4_K_M');
    const { stdout } = await run(
      'npm',
      [
        'run',
        '--silent',
        'plan',
        '--',
        '--model',
        model,
        '--device',
        'devices/discrete-8gb.json',
        '--cpu',
        'devices/cpu-2core.json',
        '--json',
      ],
      {
        timeout: 60_000,
      },
    );
    const printed = JSON.parse(stdout);
    expect(shape(printed)).toEqual(CONTRACT);
    expect(printed.layers.devices[0].layers).toEqual([0, 31]);
    const device = parseDeviceFile(
      JSON.parse(readFileSync('devices/discrete-8gb.json', 'utf8')),
      'devices/discrete-8gb.json',
    );
    const header = await realShapeHeader('Llama-3.1-8B-Q4_K_M');
    const gpuPlan = planModel(header, [device]);
    const cpu = parseCpuFile(JSON.parse(readFileSync('devices/cpu-2core.json', 'utf8')), 'cpu');
    const choice = chooseEngine({ header, gpuPlan, adapterClass: device.adapterClass, cpu });
    const expected = planJson(withEngineChoice(gpuPlan, choice));
    expect(printed).toEqual(expected);
    expect(printed).toMatchObject({
      engine: 'gpu',
      fits: 'full',
      kvBytesPerToken: 131072,
      precision: { compute: 'f16', weights: 'file' },
    });
  });

  it('--budget-mb is a budget that already excludes the margin; --context and --f16 are honoured', async () => {
    const model = shapeFile('Qwen2.5-7B-Q4_K_M');
    const device = parseDeviceFile(
      JSON.parse(readFileSync('devices/discrete-8gb.json', 'utf8')),
      'x',
    );
    const header = await realShapeHeader('Qwen2.5-7B-Q4_K_M');
    const need = planModel(header, [withUserBudget(device, 64 * 2 ** 30)], {
      contextTokens: 8192,
      contextFloor: 8192,
      margin: NO_MARGIN,
    }).bytes.gpu.total;
    const mb = Math.ceil(need / MiB);
    const args = [
      '--model',
      model,
      '--device',
      'devices/discrete-8gb.json',
      '--context',
      '8192',
      '--json',
    ];
    const fits = JSON.parse((await plan([...args, '--budget-mb', String(mb)])).stdout);
    expect(fits).toMatchObject({ fits: 'full', contextTokens: 8192 });
    expect(fits.bytes.gpu.total).toBeLessThanOrEqual(mb * MiB);
    const short = JSON.parse((await plan([...args, '--budget-mb', String(mb - 1)])).stdout);
    expect(short.contextTokens).toBeLessThan(8192);
    const f32 = JSON.parse(
      (await plan([...args, '--budget-mb', String(mb), '--f16', 'off'])).stdout,
    );
    expect(f32.precision.compute).toBe('f32');
  });

  it('plans two devices given as two comma-separated files, with one budget each', async () => {
    const model = shapeFile('Llama-3.1-8B-Q4_K_M');
    const devices = 'devices/discrete-4gb.json,devices/unified-16gb.json';
    const out = await plan(['--model', model, '--device', devices, '--json']);
    const printed = JSON.parse(out.stdout);
    expect(printed.layers.devices).toHaveLength(2);
    expect(printed.layers.devices[0].layers[0]).toBe(0);
    expect(printed.layers.devices[1].layers).toEqual([printed.layers.devices[0].layers[1] + 1, 31]);
    const budgets = await plan([
      '--model',
      model,
      '--device',
      devices,
      '--budget-mb',
      '3000,3000',
      '--context',
      '4096',
      '--json',
    ]);
    const split = JSON.parse(budgets.stdout);
    expect(split.layers.devices.map((d: { layers: number[] }) => d.layers)).toEqual([
      [0, 15],
      [16, 31],
    ]);
    expect(split.reasons.join('\n')).toMatch(
      /Memory budget on 4 GB discrete GPU: 2.93 GiB \(user: set by you\); 0.0 MiB kept free/,
    );
    const wrong = await plan([
      '--model',
      model,
      '--device',
      devices,
      '--budget-mb',
      '1,2,3',
      '--json',
    ]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/3 --budget-mb values for 2 device/);
  });

  it('refuses bad arguments and unreadable files with a message and a usage exit code', async () => {
    const broken = join(dir, 'broken.gguf');
    writeFileSync(broken, new Uint8Array(64));
    const [missing, bad, unknown, notGguf] = await Promise.all([
      plan(['--model', join(dir, 'nope.gguf'), '--budget-mb', '100', '--json']),
      plan(['--model', 'x', '--f16', 'maybe']),
      plan(['--model', 'x', '--frobnicate']),
      plan(['--model', broken, '--budget-mb', '100', '--device', 'devices/phone.json', '--json']),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Cannot open the model file .*nope.gguf/);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--f16 takes on or off/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option --frobnicate\nusage: npm run --silent plan/);
    expect(notGguf.code).toBe(1);
    expect(notGguf.stderr).toMatch(/plan: .+/);
  });

  describe('from a URL', () => {
    let server: Server;
    let url = '';
    const requested: [number, number][] = [];
    const header = realShapeFile(realShape('Llama-3.1-8B-Q4_K_M'));
    const size = realShape('Llama-3.1-8B-Q4_K_M').publishedBytes!;

    beforeAll(async () => {
      // Pretends to be the whole 4.9 GB file: the header's bytes, then zeros; answers only Range.
      server = createServer((req, res) => {
        const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
        if (!m) {
          res.writeHead(200, { 'content-length': '0' }).end();
          return;
        }
        const start = Number(m[1]);
        const end = Math.min(Number(m[2]), size - 1);
        requested.push([start, end]);
        const body = new Uint8Array(end - start + 1);
        if (start < header.length)
          body.set(header.subarray(start, Math.min(end + 1, header.length)));
        res
          .writeHead(206, {
            'content-range': `bytes ${start}-${end}/${size}`,
            'content-length': String(body.length),
          })
          .end(body);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.gguf`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('requests only the header of a multi-gigabyte file', async () => {
      const out = await plan(['--model', url, '--device', 'devices/discrete-8gb.json', '--json']);
      expect(out.code, out.stderr).toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({ fits: 'full', layers: { total: 32 } });
      const fetched = requested.reduce((a, [s, e]) => a + e - s + 1, 0);
      expect(Math.max(...requested.map(([, e]) => e))).toBeLessThan(16 * MiB);
      expect(fetched).toBeLessThan(32 * MiB);
    });
  });

  describe('from a host whose answers run past the range asked for', () => {
    let server: Server;
    let url = '';
    let sent = 0;
    const header = realShapeFile(realShape('Llama-3.1-8B-Q4_K_M'));
    const size = realShape('Llama-3.1-8B-Q4_K_M').publishedBytes!;
    /** Far more than any header read: a client that buffers whole bodies gets this much each time. */
    const BODY_BYTES = 48 * MiB;

    beforeAll(async () => {
      // The right Content-Range, then the file's bytes from there on, well past the range's end.
      server = createServer(async (req, res) => {
        const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
        res.writeHead(206, { 'content-range': `bytes ${start}-${start}/${size}` });
        const piece = new Uint8Array(256 * 1024);
        for (let offset = start; offset < start + BODY_BYTES && !res.destroyed;) {
          piece.fill(0);
          if (offset < header.length) {
            piece.set(header.subarray(offset, Math.min(offset + piece.length, header.length)));
          }
          offset += piece.length;
          sent += piece.length;
          if (!res.write(piece)) await new Promise((resolve) => res.once('drain', resolve));
        }
        res.end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.gguf`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('reads only the bytes asked for, never buffering an endless body', async () => {
      const out = await plan(['--model', url, '--device', 'devices/discrete-8gb.json', '--json']);
      expect(out.code, out.stderr).toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({ fits: 'full', layers: { total: 32 } });
      // What the sockets buffered before each cancel, not whole bodies.
      expect(sent).toBeLessThan(BODY_BYTES);
    });
  });
});
