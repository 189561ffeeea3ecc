// A file in, its text and blocks out: read in slices with progress and cancel, refused early when
// too large, empty, binary or of a kind no reader takes. Nothing here stores anything.
import { cancelled, DocumentError } from './errors';
import { extractDocx } from './docx';
import { extractHtml } from './html';
import { documentKind } from './kinds';
import { extractPdf } from './pdf';
import { extractMarkdown, extractPlain } from './plain';
import type { DocumentKind, ExtractedText } from './types';

/** Largest file accepted by default: 64 MiB is about 16 million tokens, hours of embedding. */
export const DEFAULT_MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;
const SLICE_BYTES = 4 * 1024 * 1024;

export interface ReadProgress {
  stage: 'read' | 'parse';
  done: number;
  total: number;
}

export interface ExtractOptions {
  maxBytes?: number;
  signal?: AbortSignal;
  onProgress?: (progress: ReadProgress) => void;
}

/** A named piece of data to read: a `File`, or pasted text wrapped as one. */
export interface DocumentInput {
  name: string;
  blob: Blob;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function checkSignal(signal: AbortSignal | undefined, name: string): void {
  if (signal?.aborted) throw cancelled(name);
}

async function readAll(input: DocumentInput, options: ExtractOptions): Promise<Uint8Array> {
  const { blob, name } = input;
  const out = new Uint8Array(blob.size);
  for (let at = 0; at < blob.size; at += SLICE_BYTES) {
    checkSignal(options.signal, name);
    const slice = new Uint8Array(await blob.slice(at, at + SLICE_BYTES).arrayBuffer());
    out.set(slice, at);
    options.onProgress?.({ stage: 'read', done: at + slice.length, total: blob.size });
  }
  return out;
}

/** Text decoded slice by slice, so only the text and one slice are held at a time. */
async function readText(input: DocumentInput, options: ExtractOptions): Promise<string> {
  const { blob, name } = input;
  const decoder = new TextDecoder('utf-8');
  const parts: string[] = [];
  for (let at = 0; at < blob.size; at += SLICE_BYTES) {
    checkSignal(options.signal, name);
    const slice = new Uint8Array(await blob.slice(at, at + SLICE_BYTES).arrayBuffer());
    if (at === 0 && slice.subarray(0, 8192).includes(0)) {
      throw new DocumentError(
        'unsupported',
        `"${name}" looks like a binary file, not text; add text, Markdown, HTML, PDF, Word or source files.`,
      );
    }
    parts.push(decoder.decode(slice, { stream: true }));
    options.onProgress?.({ stage: 'read', done: at + slice.length, total: blob.size });
  }
  parts.push(decoder.decode());
  return parts.join('').replace(/^\ufeff/, '');
}

export async function extractDocument(
  input: DocumentInput,
  options: ExtractOptions = {},
  kind: DocumentKind | undefined = documentKind(input.name),
): Promise<ExtractedText> {
  const { name, blob } = input;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_DOCUMENT_BYTES;
  if (!kind) {
    throw new DocumentError(
      'unsupported',
      `"${name}" is not a kind of file Layerwise reads; add .txt, .md, .html, .pdf, .docx or source files.`,
    );
  }
  if (blob.size === 0) {
    throw new DocumentError('empty', `"${name}" is empty; there is nothing to add.`);
  }
  if (blob.size > maxBytes) {
    throw new DocumentError(
      'too-large',
      `"${name}" is ${mb(blob.size)}; documents up to ${mb(maxBytes)} can be added. Split it into smaller files.`,
    );
  }
  let extracted: ExtractedText;
  if (kind === 'pdf' || kind === 'docx') {
    const bytes = await readAll(input, options);
    checkSignal(options.signal, name);
    extracted =
      kind === 'pdf'
        ? await extractPdf(
            bytes,
            name,
            (done, total) => options.onProgress?.({ stage: 'parse', done, total }),
            options.signal,
          ).catch((error) => {
            if (options.signal?.aborted) throw cancelled(name);
            throw error;
          })
        : await extractDocx(bytes, name);
  } else {
    const text = await readText(input, options);
    extracted =
      kind === 'markdown'
        ? extractMarkdown(text)
        : kind === 'html'
          ? extractHtml(text)
          : extractPlain(text, kind);
  }
  checkSignal(options.signal, name);
  if (!extracted.blocks.length) {
    throw new DocumentError('empty', `"${name}" has no text in it; there is nothing to add.`);
  }
  return extracted;
}
