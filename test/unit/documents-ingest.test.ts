// Ingestion: generated PDF, .docx, Markdown and HTML read into blocks and cut into chunks, with
// offsets, pages and heading paths asserted exactly; bad input refused with a clear message.
import { createWriteStream, openAsBlob } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chunkText } from '../../src/documents/chunk';
import { DocumentError } from '../../src/documents/errors';
import { extractDocument, type ReadProgress } from '../../src/documents/extract';
import { documentKind } from '../../src/documents/kinds';
import type { ExtractedText } from '../../src/documents/types';
import { docxWith, pdfWithoutText, pdfWithPages } from '../fixtures/documents/generate';

/** One token per whitespace-separated word: boundaries then follow from the text alone. */
const countWords = (t: string) => t.split(/\s+/).filter(Boolean).length;

function input(name: string, data: BlobPart) {
  return { name, blob: new Blob([data]) };
}

/** Every block's and chunk's offsets must cut exactly its text out of the document. */
function expectOffsetsExact(doc: ExtractedText, chunks: ReturnType<typeof chunkText>) {
  for (const c of chunks) expect(doc.text.slice(c.start, c.end)).toBe(c.text);
}

async function failure(promise: Promise<unknown>): Promise<DocumentError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DocumentError);
  return error as DocumentError;
}

describe('documents: reading formats', () => {
  it('reads a three-page PDF with its page numbers and paragraph blocks', async () => {
    const pdf = await pdfWithPages([
      [['Alpha beta', 'gamma.'], ['Delta epsilon.'], ['Zeta eta theta iota kappa lambda.']],
      [['Page two holds the answer: forty two.']],
      [['Page three closes the file.']],
    ]);
    const doc = await extractDocument(input('report.pdf', pdf));
    expect(doc.pages).toBe(3);
    expect(doc.text).toBe(
      'Alpha beta\ngamma.\n\nDelta epsilon.\n\nZeta eta theta iota kappa lambda.\n\n' +
        'Page two holds the answer: forty two.\n\nPage three closes the file.',
    );
    expect(doc.blocks).toEqual([
      { start: 0, end: 17, page: 1, headings: [] },
      { start: 19, end: 33, page: 1, headings: [] },
      { start: 35, end: 68, page: 1, headings: [] },
      { start: 70, end: 107, page: 2, headings: [] },
      { start: 109, end: 136, page: 3, headings: [] },
    ]);
    const chunks = chunkText(doc, { countTokens: countWords, maxTokens: 10, overlapTokens: 4 });
    // The second chunk starts with the first one's last paragraph (2 tokens of overlap).
    expect(chunks.map((c) => [c.start, c.end, c.page, c.tokens])).toEqual([
      [0, 33, 1, 5],
      [19, 68, 1, 8],
      [70, 107, 2, 7],
      [109, 136, 3, 5],
    ]);
    expectOffsetsExact(doc, chunks);
  });

  it('reads a .docx with its heading path', async () => {
    const docx = await docxWith([
      { heading: 1, text: 'Installation' },
      { text: 'Unpack the archive. Run the installer.' },
      { heading: 2, text: 'On Linux' },
      { text: 'Use the tarball & a shell <bash>.' },
      { heading: 1, text: 'Usage' },
      { text: 'Start it.' },
    ]);
    const doc = await extractDocument(input('guide.docx', docx));
    expect(doc.kind).toBe('docx');
    expect(doc.text).toBe(
      'Installation\n\nUnpack the archive. Run the installer.\n\nOn Linux\n\n' +
        'Use the tarball & a shell <bash>.\n\nUsage\n\nStart it.',
    );
    const chunks = chunkText(doc, { countTokens: countWords, maxTokens: 10, overlapTokens: 0 });
    expect(chunks.map((c) => [c.text, c.headings])).toEqual([
      ['Installation\n\nUnpack the archive. Run the installer.', ['Installation']],
      ['On Linux\n\nUse the tarball & a shell <bash>.', ['Installation', 'On Linux']],
      ['Usage\n\nStart it.', ['Usage']],
    ]);
    expectOffsetsExact(doc, chunks);
  });

  it('reads Markdown as written, blocks under their headings, and cuts long sections with overlap', async () => {
    const body = Array.from({ length: 6 }, (_, i) => `Sentence ${i} has five words.`).join(' ');
    const md = `# Guide\r\n\r\nIntro text.\r\n\r\n## Details\r\n\r\n${body}\r\n\r\n\`\`\`js\r\nlet x = 1;\r\n\`\`\`\r\n`;
    const doc = await extractDocument(input('notes.md', md));
    expect(doc.text).toBe(md.replace(/\r\n/g, '\n'));
    expect(doc.blocks.map((b) => [doc.text.slice(b.start, b.end), b.headings])).toEqual([
      ['# Guide', ['Guide']],
      ['Intro text.', ['Guide']],
      ['## Details', ['Guide', 'Details']],
      [body, ['Guide', 'Details']],
      ['```js\nlet x = 1;\n```', ['Guide', 'Details']],
    ]);
    const chunks = chunkText(doc, { countTokens: countWords, maxTokens: 12, overlapTokens: 5 });
    expect(chunks.map((c) => c.text)).toEqual([
      '# Guide\n\nIntro text.',
      '## Details\n\nSentence 0 has five words. Sentence 1 has five words.',
      'Sentence 1 has five words. Sentence 2 has five words.',
      'Sentence 2 has five words. Sentence 3 has five words.',
      'Sentence 3 has five words. Sentence 4 has five words.',
      'Sentence 4 has five words. Sentence 5 has five words.',
      'Sentence 5 has five words.\n\n```js\nlet x = 1;\n```',
    ]);
    expect(chunks[1].start).toBe(doc.text.indexOf('## Details'));
    expectOffsetsExact(doc, chunks);
  });

  it('reads HTML without scripts or styles, entities decoded, headings kept', async () => {
    const html =
      '<html><head><title>x</title><style>p{}</style></head><body><h1>Caf&#233; &amp; bar</h1>' +
      '<p>Open <b>daily</b>&nbsp;from 9.</p><script>var a = "<p>no</p>";</script><h2>Menu</h2>' +
      '<ul><li>Tea &#8212; 2</li><li>Coffee &#x2014; 3</li></ul></body></html>';
    const doc = await extractDocument(input('cafe.html', html));
    expect(doc.text).toBe(
      'Caf\u00e9 & bar\n\nOpen daily from 9.\n\nMenu\n\nTea \u2014 2\n\nCoffee \u2014 3',
    );
    expect(doc.blocks.map((b) => b.headings)).toEqual([
      ['Caf\u00e9 & bar'],
      ['Caf\u00e9 & bar'],
      ['Caf\u00e9 & bar', 'Menu'],
      ['Caf\u00e9 & bar', 'Menu'],
      ['Caf\u00e9 & bar', 'Menu'],
    ]);
  });

  it('cuts a sentence longer than a chunk at words, and a word longer than a chunk at characters', () => {
    const text = 'one two three four five six seven eight nine ten eleven';
    const doc: ExtractedText = {
      kind: 'text',
      text,
      blocks: [{ start: 0, end: text.length, headings: [] }],
    };
    const chunks = chunkText(doc, { countTokens: countWords, maxTokens: 8, overlapTokens: 0 });
    expect(chunks.map((c) => c.text)).toEqual([
      'one two three four five six seven eight',
      'nine ten eleven',
    ]);
    const long = 'x'.repeat(100);
    const perChar = (t: string) => Math.ceil(t.replace(/\s/g, '').length / 10);
    const word: ExtractedText = {
      kind: 'text',
      text: long,
      blocks: [{ start: 0, end: 100, headings: [] }],
    };
    const cut = chunkText(word, { countTokens: perChar, maxTokens: 8, overlapTokens: 0 });
    expect(cut.map((c) => [c.start, c.end])).toEqual([
      [0, 80],
      [80, 100],
    ]);
  });

  it('takes source files by extension and keeps their text as written', async () => {
    expect(documentKind('src/main.rs')).toBe('code');
    expect(documentKind('README.MD')).toBe('markdown');
    expect(documentKind('photo.jpg')).toBeUndefined();
    const code = 'fn main() {\n    println!("hi");\n}\n\nfn other() {}\n';
    const doc = await extractDocument(input('main.rs', code));
    expect(doc.kind).toBe('code');
    expect(doc.blocks.map((b) => code.slice(b.start, b.end))).toEqual([
      'fn main() {\n    println!("hi");\n}',
      'fn other() {}',
    ]);
  });
});

describe('documents: bad input', () => {
  it('refuses an empty file, a whitespace-only file and an unknown kind', async () => {
    expect((await failure(extractDocument(input('empty.txt', '')))).code).toBe('empty');
    expect((await failure(extractDocument(input('blank.md', '  \n\n ')))).code).toBe('empty');
    const unknown = await failure(extractDocument(input('image.png', 'x')));
    expect(unknown.code).toBe('unsupported');
    expect(unknown.message).toContain('.pdf');
  });

  it('refuses a binary file given a text name', async () => {
    const error = await failure(extractDocument(input('data.txt', new Uint8Array([1, 0, 2, 3]))));
    expect(error.code).toBe('unsupported');
    expect(error.message).toMatch(/binary/);
  });

  it('refuses a PDF with no text layer, naming its page count', async () => {
    const error = await failure(extractDocument(input('scan.pdf', await pdfWithoutText(2))));
    expect(error.code).toBe('no-text');
    expect(error.message).toMatch(/2 page\(s\).*OCR/);
  });

  it('refuses a corrupt PDF and a corrupt .docx', async () => {
    const pdf = await pdfWithPages([[['Some text.']]]);
    const broken = await failure(extractDocument(input('cut.pdf', pdf.slice(0, 200))));
    expect(broken.code).toBe('unreadable');
    const docx = await docxWith([{ text: 'Hello.' }]);
    const mangled = docx.slice();
    mangled.fill(7, 30, 400);
    const error = await failure(extractDocument(input('bad.docx', mangled)));
    expect(error.code).toBe('unreadable');
    expect(error.message).toMatch(/bad\.docx.*save it again/);
  });

  describe('a 200 MB text file', () => {
    const size = 200 * 1024 * 1024;

    async function withBigFile(run: (blob: Blob) => Promise<void>) {
      const dir = await mkdtemp(join(tmpdir(), 'layerwise-docs-'));
      const path = join(dir, 'big.txt');
      try {
        const out = createWriteStream(path);
        const line = Buffer.from('All work and no play makes a long document.\n'.repeat(1024));
        for (let written = 0; written < size; written += line.length) {
          const piece = line.subarray(0, Math.min(line.length, size - written));
          if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()));
        }
        await new Promise<void>((resolve, reject) =>
          out.end((e?: Error | null) => (e ? reject(e) : resolve())),
        );
        await run(await openAsBlob(path));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }

    it('is refused by size before any of it is read', async () => {
      await withBigFile(async (blob) => {
        const progress: ReadProgress[] = [];
        const before = process.memoryUsage().arrayBuffers;
        const error = await failure(
          extractDocument({ name: 'big.txt', blob }, { onProgress: (p) => progress.push(p) }),
        );
        expect(error.code).toBe('too-large');
        expect(error.message).toMatch(/209\.7 MB.*67\.1 MB.*Split/);
        expect(progress).toEqual([]);
        expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
      });
    });

    it('with a higher limit, reports progress and stops at cancel holding only what it read', async () => {
      await withBigFile(async (blob) => {
        const controller = new AbortController();
        const progress: ReadProgress[] = [];
        const heapBefore = process.memoryUsage().heapUsed;
        let heapAtCancel = 0;
        const error = await failure(
          extractDocument(
            { name: 'big.txt', blob },
            {
              maxBytes: 256 * 1024 * 1024,
              signal: controller.signal,
              onProgress: (p) => {
                progress.push(p);
                if (p.done >= 16 * 1024 * 1024 && !controller.signal.aborted) {
                  heapAtCancel = process.memoryUsage().heapUsed;
                  controller.abort();
                }
              },
            },
          ),
        );
        expect(error.code).toBe('cancelled');
        expect(error.message).toMatch(/nothing was stored/);
        expect(progress.map((p) => p.done)).toEqual([4, 8, 12, 16].map((m) => m * 1024 * 1024));
        expect(progress.every((p) => p.total === size && p.stage === 'read')).toBe(true);
        // 16 MiB of text read is at most 32 MiB of UTF-16 in the heap, far from the file's 200 MB.
        expect(heapAtCancel - heapBefore).toBeLessThan(64 * 1024 * 1024);
      });
    });
  });
});
