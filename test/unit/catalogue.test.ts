import { describe, expect, it } from 'vitest';
import { CATALOGUE, downloadUrl, variantId } from '../../src/app/models/catalogue';

const all = CATALOGUE.flatMap((model) => model.variants.map((variant) => ({ model, variant })));

describe('GGUF catalogue', () => {
  it('has the models the app promises', () => {
    const names = CATALOGUE.map((m) => m.name);
    for (const wanted of [
      'Qwen3 0.6B',
      'Qwen3 1.7B',
      'Qwen3 4B',
      'Qwen3 8B',
      'Llama 3.2 1B Instruct',
      'Llama 3.2 3B Instruct',
      'Llama 3.1 8B Instruct',
      'SmolLM2 360M Instruct',
      'SmolLM2 1.7B Instruct',
      'Qwen2.5 7B Instruct',
      'Mistral 7B Instruct v0.3',
    ]) {
      expect(names).toContain(wanted);
    }
  });

  it.each(all.map(({ model, variant }) => [variantId(model, variant), model, variant]))(
    '%s is well-formed',
    (_id, model, variant) => {
      expect(downloadUrl(variant)).toMatch(
        /^https:\/\/huggingface\.co\/[\w.-]+\/[\w.-]+\/resolve\/([0-9a-f]{40}|main)\/[\w.-]+\.gguf$/,
      );
      expect(downloadUrl(variant)).toBe(
        `https://huggingface.co/${variant.repo}/resolve/${variant.revision}/${variant.file}`,
      );
      expect(Number.isSafeInteger(variant.bytes) && variant.bytes > 0).toBe(true);
      if (variant.sha256 !== null) expect(variant.sha256).toMatch(/^[0-9a-f]{64}$/);
      // Split files (-00001-of-00002) need multi-part loading, which the store does not do.
      expect(variant.file).not.toMatch(/-\d{5}-of-\d{5}\.gguf$/);
      const quantInName = variant.quant.toLowerCase().replace('f16', '(f16|fp16)');
      expect(variant.file.toLowerCase()).toMatch(new RegExp(`[-.]${quantInName}\\.gguf$`));
      expect(model.license.id.length).toBeGreaterThan(0);
      expect(model.license.name.length).toBeGreaterThan(3);
      expect(model.billions).toBeGreaterThan(0);
    },
  );

  it('gives every model and variant a unique id, variants smallest first', () => {
    const ids = all.map(({ model, variant }) => variantId(model, variant));
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(CATALOGUE.map((m) => m.id)).size).toBe(CATALOGUE.length);
    for (const model of CATALOGUE) {
      const sizes = model.variants.map((v) => v.bytes);
      expect(sizes).toEqual([...sizes].sort((a, b) => a - b));
    }
  });

  it('names the non-Apache licenses', () => {
    const license = (id: string) => CATALOGUE.find((m) => m.id === id)!.license.id;
    expect(license('qwen2.5-3b-instruct')).toBe('qwen-research');
    expect(license('llama-3.1-8b-instruct')).toBe('llama3.1');
    expect(license('llama-3.2-1b-instruct')).toBe('llama3.2');
    expect(license('qwen3-8b')).toBe('apache-2.0');
  });
});
