// HTML (and the HTML mammoth makes of a .docx) to plain text: one block per heading, paragraph,
// list item, table row or preformatted block, with the heading path each sits under. A small
// tag scanner rather than a DOM, because DOMParser does not exist in workers or in Node.
import type { DocumentKind, ExtractedText, TextBlock } from './types';

const BLOCK_TAGS = new Set(
  (
    'address article aside blockquote body br dd div dl dt figcaption figure footer form h1 h2 h3 ' +
    'h4 h5 h6 header hr li main nav ol p pre section table td th tr ul caption'
  ).split(' '),
);
const SKIPPED = /<(script|style|noscript|template|head|svg)\b[\s\S]*?<\/\1\s*>/gi;
const NAMED: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  ndash: '\u2013',
  mdash: '\u2014',
  hellip: '\u2026',
  lsquo: '\u2018',
  rsquo: '\u2019',
  ldquo: '\u201c',
  rdquo: '\u201d',
  copy: '\u00a9',
};

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, body: string) => {
    if (body[0] === '#') {
      const code =
        body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : +body.slice(1);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[body.toLowerCase()] ?? whole;
  });
}

export function extractHtml(html: string, kind: DocumentKind = 'html'): ExtractedText {
  const source = html.replace(/<!--[\s\S]*?-->/g, '').replace(SKIPPED, '');
  const parts: string[] = [];
  const blocks: TextBlock[] = [];
  const stack: { depth: number; title: string }[] = [];
  let length = 0;
  let pending = '';
  let heading = 0;
  let pre = 0;
  const flush = () => {
    const content = pre ? pending.replace(/^\n+|\s+$/g, '') : pending.replace(/\s+/g, ' ').trim();
    pending = '';
    if (!content) return;
    if (heading) {
      while (stack.length && stack[stack.length - 1].depth >= heading) stack.pop();
      stack.push({ depth: heading, title: content });
    }
    if (parts.length) length += 2;
    blocks.push({
      start: length,
      end: length + content.length,
      headings: stack.map((h) => h.title),
    });
    parts.push(content);
    length += content.length;
  };
  const tag = /<\/?([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>/g;
  let last = 0;
  for (let m = tag.exec(source); m; m = tag.exec(source)) {
    pending += decodeEntities(source.slice(last, m.index));
    last = m.index + m[0].length;
    const name = m[1].toLowerCase();
    if (!BLOCK_TAGS.has(name)) continue;
    const closing = m[0][1] === '/';
    if (name === 'pre' && !closing) {
      flush();
      pre++;
      continue;
    }
    flush();
    if (name === 'pre') pre = Math.max(0, pre - 1);
    const level = /^h([1-6])$/.exec(name);
    if (level) heading = closing ? 0 : Number(level[1]);
  }
  pending += decodeEntities(source.slice(last));
  flush();
  return { kind, text: parts.join('\n\n'), blocks };
}
