// Model output as Markdown. A model's text is untrusted: raw HTML is shown as text, images become
// links (an <img> would fetch from a host the person never chose), only http(s)/mailto links stay,
// and DOMPurify sanitizes the result as a second line of defence. An answer with sources shows its
// citations `[n]` as buttons that open source n.
import DOMPurify from 'dompurify';
import { Marked, type Tokens } from 'marked';
import type { MarkdownBlock } from './markdown-blocks';

const SAFE_URL = /^(https?:|mailto:|#)/i;

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const OPTIONS = {
  gfm: true,
  breaks: true,
  renderer: {
    code({ text, lang }: Tokens.Code): string {
      const language = (lang ?? '').match(/^[\w+-]+/)?.[0] ?? '';
      const label = language ? `<span class="code-lang">${language}</span>` : '';
      const cls = language ? ` class="language-${language}"` : '';
      return (
        `<div class="code-block"><div class="code-bar">${label}` +
        `<button type="button" class="copy-code" aria-label="Copy code">Copy</button></div>` +
        // Focusable, so a keyboard can scroll a long line sideways.
        `<pre tabindex="0"><code${cls}>${escapeHtml(text)}</code></pre></div>\n`
      );
    },
    html({ text }: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(text);
    },
    link(
      this: { parser: { parseInline(tokens: Tokens.Link['tokens']): string } },
      token: Tokens.Link,
    ) {
      const inner = this.parser.parseInline(token.tokens);
      if (!SAFE_URL.test(token.href.trim())) return inner;
      const title = token.title ? ` title="${escapeHtml(token.title)}"` : '';
      return `<a href="${escapeHtml(token.href)}"${title} target="_blank" rel="noopener noreferrer">${inner}</a>`;
    },
    image({ href, text }: Tokens.Image): string {
      const label = escapeHtml(text || 'image');
      if (!SAFE_URL.test(href.trim())) return label;
      return `<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer">[image: ${label}]</a>`;
    },
  },
};

const marked = new Marked(OPTIONS);

interface CitationToken extends Tokens.Generic {
  type: 'citation';
  raw: string;
  source: number;
}

/**
 * A parser that turns `[n]` into a button for source n when there is one (`sources` holds each
 * source's label, in citation order); `[n](…)` stays a link and `[n]` of no source stays text.
 */
function citingParser(sources: string[]): Marked {
  return new Marked(OPTIONS, {
    extensions: [
      {
        name: 'citation',
        level: 'inline',
        start: (src: string) => src.match(/\[\d+\]/)?.index,
        tokenizer(src: string): CitationToken | undefined {
          const m = /^\[(\d+)\](?![(:])/.exec(src);
          const n = m ? Number(m[1]) : 0;
          if (!m || n < 1 || n > sources.length) return undefined;
          return { type: 'citation', raw: m[0], source: n };
        },
        renderer(token) {
          const n = (token as CitationToken).source;
          const label = escapeHtml(`Source ${n}: ${sources[n - 1]}`);
          return `<button type="button" class="citation" data-source="${n}" aria-label="${label}">[${n}]</button>`;
        },
      },
    ],
  });
}

/**
 * Markdown to HTML before sanitizing: pure, so it can be checked without a DOM. `sources` are the
 * labels of the answer's numbered sources, whose citations become buttons.
 */
export function markdownToHtml(markdown: string, sources: string[] = []): string {
  const parser = sources.length ? citingParser(sources) : marked;
  return parser.parse(markdown, { async: false });
}

let hooked = false;

function purifier(): typeof DOMPurify {
  if (!hooked) {
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A') {
        node.setAttribute('target', '_blank');
        node.setAttribute('rel', 'noopener noreferrer');
      }
    });
    hooked = true;
  }
  return DOMPurify;
}

/** Safe HTML for `{@html}`: needs a DOM (the page or a worker with one). */
export function renderMarkdown(markdown: string, sources: string[] = []): string {
  return purifier().sanitize(markdownToHtml(markdown, sources), {
    FORBID_TAGS: ['style', 'img', 'svg', 'math', 'iframe', 'form', 'input'],
    FORBID_ATTR: ['style'],
    ADD_ATTR: ['target'],
  });
}

/** One block's safe HTML, or why it is shown as plain text (a limit, or the renderer failed). */
export function renderBlock(
  block: MarkdownBlock,
  sources: string[] = [],
): { html: string } | { plainBecause: string } {
  if (block.plainBecause) return { plainBecause: block.plainBecause };
  try {
    return { html: renderMarkdown(block.source, sources) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { plainBecause: `the Markdown renderer failed (${reason})` };
  }
}
