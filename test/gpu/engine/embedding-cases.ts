// What the embedding tests against llama.cpp share: the texts (English, Chinese, emoji, code), the
// adapters and compute precisions with their cosine floors, and the cosine itself.
export const TEXTS = {
  english: 'The quick brown fox jumps over the lazy dog near the river bank.',
  chinese: '我们在河边散步，天气很好。',
  emoji: 'Launch day 🚀🎉 — all systems go 👍',
  code: 'function add(a: number, b: number) {\n  return a + b;\n}',
};

export const PRECISIONS = [
  { adapter: 'swiftshader', precision: 'f32', floor: 0.9999 },
  { adapter: 'lavapipe', precision: 'f16', floor: 0.999 },
] as const;

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}
