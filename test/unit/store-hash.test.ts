import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Sha256, sha256Hex } from '../../src/store/hash';

function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const nodeHex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('Sha256', () => {
  it('matches node:crypto on lengths around every padding boundary', () => {
    for (const length of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000]) {
      const bytes = randomBytes(length, length + 7);
      expect(new Sha256().update(bytes).digestHex(), `length ${length}`).toBe(nodeHex(bytes));
    }
  });

  it('gives the same digest however the input is split', () => {
    const bytes = randomBytes(50_000, 42);
    const rng = randomBytes(200, 9);
    const hash = new Sha256();
    let offset = 0;
    for (let i = 0; offset < bytes.length; i++) {
      const step = 1 + rng[i % rng.length] * (i % 3 === 0 ? 1 : 17);
      hash.update(bytes.subarray(offset, offset + step));
      offset += step;
    }
    expect(hash.digestHex()).toBe(nodeHex(bytes));
    expect(hash.length).toBe(bytes.length);
  });

  it('continues from a saved state as if never interrupted, and digest does not end the hash', () => {
    const bytes = randomBytes(64 * 300 + 17, 5);
    const first = new Sha256().update(bytes.subarray(0, 64 * 200));
    expect(first.digestHex()).toBe(nodeHex(bytes.subarray(0, 64 * 200)));
    const state = JSON.parse(JSON.stringify(first.save()));
    const resumed = Sha256.resume(state).update(bytes.subarray(64 * 200));
    expect(resumed.digestHex()).toBe(nodeHex(bytes));
  });

  it('refuses to save or resume in the middle of a block', () => {
    const hash = new Sha256().update(randomBytes(70, 3));
    expect(() => hash.save()).toThrow(/multiple of 64/);
    expect(() => Sha256.resume({ words: [1, 2, 3, 4, 5, 6, 7, 8], bytes: 70 })).toThrow(/64-byte/);
  });

  it('sha256Hex agrees with node:crypto', async () => {
    const bytes = randomBytes(100_003, 11);
    expect(await sha256Hex(bytes)).toBe(nodeHex(bytes));
  });
});
