// Which reader a file goes to, by its name (browsers give source files empty or varying types).
import type { DocumentKind } from './types';

const SOURCE_EXTENSIONS = new Set(
  (
    'ts tsx js jsx mjs cjs py rb rs go java kt kts swift c h cc cpp hpp cxx cs php pl lua r m ' +
    'scala sh bash zsh ps1 sql css scss less svelte vue json jsonc yaml yml toml ini cfg xml ' +
    'wgsl glsl hlsl zig dart ex exs erl hs ml clj gradle cmake makefile dockerfile'
  ).split(' '),
);

const KINDS: Record<string, DocumentKind> = {
  txt: 'text',
  text: 'text',
  log: 'text',
  csv: 'text',
  tsv: 'text',
  md: 'markdown',
  markdown: 'markdown',
  html: 'html',
  htm: 'html',
  xhtml: 'html',
  pdf: 'pdf',
  docx: 'docx',
};

/** The kind of a file by its extension, or undefined when no reader takes it. */
export function documentKind(name: string): DocumentKind | undefined {
  const base = name.toLowerCase().split(/[\\/]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  const ext = dot >= 0 ? base.slice(dot + 1) : base;
  return KINDS[ext] ?? (SOURCE_EXTENSIONS.has(ext) ? 'code' : undefined);
}

/** What the file picker offers. */
export const ACCEPTED_EXTENSIONS = [
  ...Object.keys(KINDS),
  ...[...SOURCE_EXTENSIONS].filter((e) => !['makefile', 'dockerfile'].includes(e)),
].map((e) => `.${e}`);
