// .docx through mammoth: converted to HTML (headings kept as h1-h6), then read as HTML.
import mammoth from 'mammoth';
import { DocumentError } from './errors';
import { extractHtml } from './html';
import type { ExtractedText } from './types';

export async function extractDocx(bytes: Uint8Array, name: string): Promise<ExtractedText> {
  let html: string;
  try {
    const arrayBuffer = bytes.buffer.slice(
      bytes.byteOffset,
      bytes.byteOffset + bytes.byteLength,
    ) as ArrayBuffer;
    // Node's build reads `buffer`, the browser build `arrayBuffer`; both are the same bytes.
    const input = { arrayBuffer, buffer: arrayBuffer as unknown as Buffer };
    html = (await mammoth.convertToHtml(input)).value;
  } catch (error) {
    throw new DocumentError(
      'unreadable',
      `"${name}" is not a readable Word document (${(error as Error).message}); open it in a word ` +
        'processor, save it again as .docx, and add that.',
    );
  }
  return extractHtml(html, 'docx');
}
