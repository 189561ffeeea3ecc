// The chat's model picker: stored models that share a file name get labels that tell them apart.
import { describe, expect, it } from 'vitest';
import { distinguish } from '../../src/app/session.svelte';
import { newManifest, type ModelManifest } from '../../src/store/manifest';

function stored(url: string | null, name: string, sha: string, size = 4096): ModelManifest {
  const manifest = newManifest({
    id: url ?? `file:${name}:${size}`,
    source: url ? { kind: 'url', url } : { kind: 'file', name, lastModified: 0 },
    name,
    size,
    chunkBytes: 4096,
  });
  return { ...manifest, state: 'complete', sha256: sha };
}

describe('model picker labels', () => {
  it('gives the same file listed six times six different labels', () => {
    const options = distinguish([
      stored('https://a.example/org/repo/resolve/main/m.gguf', 'm.gguf', '1'.repeat(64)),
      stored('https://a.example/org/repo/resolve/abc/m.gguf', 'm.gguf', '1'.repeat(64)),
      stored('https://b.example/mirror/m.gguf', 'm.gguf', '1'.repeat(64)),
      stored('https://b.example/mirror/m.gguf?v=2#x', 'm.gguf', '2'.repeat(64)),
      stored(null, 'm.gguf', '3'.repeat(64)),
      stored(null, 'm.gguf', '4'.repeat(64), 8192),
      stored('https://c.example/other.gguf', 'other.gguf', '5'.repeat(64)),
    ]);
    const labels = options.map((o) => o.label);
    expect(new Set(labels).size).toBe(labels.length);
    expect(labels[0]).toBe('m.gguf · a.example/org/repo/resolve/main');
    expect(labels[4]).toMatch(/^m\.gguf · imported file · /);
    // A name no other model has stays as it is.
    expect(labels[6]).toBe('other.gguf');
  });
});
