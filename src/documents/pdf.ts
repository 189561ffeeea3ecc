// PDF text through pdfjs-dist's text layer, page by page. Lines come from the items' end-of-line
// marks; a vertical gap wider than one and a half line heights starts a new paragraph block.
// A PDF whose pages have no text (scanned images) is refused rather than stored empty.
import { DocumentError } from './errors';
import type { ExtractedText, TextBlock } from './types';

interface TextItem {
  str: string;
  hasEOL: boolean;
  transform: number[];
  height: number;
}

type PdfModule = typeof import('pdfjs-dist/legacy/build/pdf.mjs');

let pdfjs: Promise<PdfModule> | undefined;

/**
 * pdfjs-dist with its parser running in this thread: ingestion already runs in a worker, and the
 * legacy build is the one that also runs in Node 20 (which lacks `Promise.withResolvers`).
 */
function loadPdfjs(): Promise<PdfModule> {
  const promises = Promise as unknown as { withResolvers?: unknown };
  promises.withResolvers ??= <T>() => {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((a, b) => ((resolve = a), (reject = b)));
    return { promise, resolve, reject };
  };
  pdfjs ??= (async () => {
    const worker = await import('pdfjs-dist/legacy/build/pdf.worker.mjs');
    (globalThis as { pdfjsWorker?: unknown }).pdfjsWorker = worker;
    return import('pdfjs-dist/legacy/build/pdf.mjs');
  })();
  return pdfjs;
}

/** Paragraphs of one page's text items, as strings. */
function pageParagraphs(items: TextItem[]): string[] {
  const paragraphs: string[] = [];
  let lines: string[] = [];
  let line = '';
  let lineY: number | undefined;
  let prevY: number | undefined;
  let height = 0;
  const endLine = () => {
    const text = line.replace(/\s+/g, ' ').trim();
    line = '';
    if (!text) return;
    if (prevY !== undefined && lineY !== undefined && prevY - lineY > 1.5 * (height || 1)) {
      paragraphs.push(lines.join('\n'));
      lines = [];
    }
    lines.push(text);
    prevY = lineY;
    lineY = undefined;
  };
  for (const item of items) {
    if (lineY === undefined && item.str.trim()) {
      lineY = item.transform[5];
      height = item.height || height;
    }
    line += item.str;
    if (item.hasEOL) endLine();
  }
  endLine();
  if (lines.length) paragraphs.push(lines.join('\n'));
  return paragraphs;
}

export async function extractPdf(
  bytes: Uint8Array,
  name: string,
  onPage?: (page: number, pages: number) => void,
  signal?: AbortSignal,
): Promise<ExtractedText> {
  const lib = await loadPdfjs();
  const task = lib.getDocument({ data: bytes, verbosity: 0 });
  let doc;
  try {
    doc = await task.promise;
  } catch (error) {
    const password = (error as { name?: string }).name === 'PasswordException';
    throw new DocumentError(
      'unreadable',
      password
        ? `"${name}" is password-protected; open it, save a copy without a password, and add that.`
        : `"${name}" is not a readable PDF (${(error as Error).message}); check that the file is complete.`,
    );
  }
  try {
    const parts: string[] = [];
    const blocks: TextBlock[] = [];
    let length = 0;
    for (let page = 1; page <= doc.numPages; page++) {
      signal?.throwIfAborted();
      const content = await (await doc.getPage(page)).getTextContent();
      const items = content.items.filter((i): i is TextItem & typeof i => 'str' in i);
      for (const paragraph of pageParagraphs(items as TextItem[])) {
        if (parts.length) length += 2;
        blocks.push({ start: length, end: length + paragraph.length, page, headings: [] });
        parts.push(paragraph);
        length += paragraph.length;
      }
      onPage?.(page, doc.numPages);
    }
    if (!blocks.length) {
      throw new DocumentError(
        'no-text',
        `"${name}" has no text layer (its ${doc.numPages} page(s) are probably scanned images); ` +
          'run it through OCR first, then add the result.',
      );
    }
    return { kind: 'pdf', text: parts.join('\n\n'), blocks, pages: doc.numPages };
  } finally {
    await task.destroy();
  }
}
