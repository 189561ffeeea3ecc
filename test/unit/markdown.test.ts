// The Markdown step alone (no DOM in Node); the sanitized result is checked in Chromium by the chat e2e test.
import { describe, expect, it } from 'vitest';
import { escapeHtml, markdownToHtml } from '../../src/app/chat/markdown';

describe('markdownToHtml', () => {
  it('shows raw HTML from a model as text instead of markup', () => {
    const html = markdownToHtml(
      'Hi <img src=x onerror="alert(1)"> and <script>alert(2)</script>\n\n<div onclick=x>block</div>',
    );
    expect(html).not.toMatch(/<img|<script|<div onclick/i);
    expect(html).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
    expect(html).toContain('&lt;script&gt;alert(2)&lt;/script&gt;');
    expect(html).toContain('&lt;div onclick=x&gt;');
  });

  it('drops javascript: and data: links but keeps their text', () => {
    const html = markdownToHtml(
      '[click](javascript:alert(1)) [d](data:text/html,x) [ok](https://a.example/)',
    );
    expect(html).not.toMatch(/javascript:|data:text/);
    expect(html).toContain('click');
    expect(html).toContain(
      '<a href="https://a.example/" target="_blank" rel="noopener noreferrer">ok</a>',
    );
  });

  it('turns images into links so rendering fetches nothing', () => {
    const html = markdownToHtml('![cat](https://img.example/cat.png) ![x](javascript:alert(1))');
    expect(html).not.toContain('<img');
    expect(html).toContain('<a href="https://img.example/cat.png"');
    expect(html).toContain('[image: cat]');
    expect(html).not.toContain('javascript:');
  });

  it('renders fenced code escaped, with its language and a copy button', () => {
    const html = markdownToHtml('```ts\nconst a = 1 < 2 && "x";\n```');
    expect(html).toContain(
      '<button type="button" class="copy-code" aria-label="Copy code">Copy</button>',
    );
    expect(html).toContain('<span class="code-lang">ts</span>');
    expect(html).toContain(
      '<code class="language-ts">const a = 1 &lt; 2 &amp;&amp; &quot;x&quot;;</code>',
    );
  });

  it('keeps only a plain language name from the fence', () => {
    const html = markdownToHtml('```js" onload="x\nx\n```');
    expect(html).toContain('class="language-js"');
    expect(html).not.toContain('onload');
  });

  it('renders ordinary Markdown', () => {
    expect(markdownToHtml('**bold** and `code`')).toBe(
      '<p><strong>bold</strong> and <code>code</code></p>\n',
    );
  });
});

describe('markdownToHtml with sources', () => {
  const sources = ['notes.md, Setup', 'a "quoted" <name>.md'];
  const button = (n: number, label: string) =>
    `<button type="button" class="citation" data-source="${n}" aria-label="Source ${n}: ${label}">[${n}]</button>`;

  it('makes each citation of an existing source a button labelled with where the source sits', () => {
    expect(markdownToHtml('Red [1], blue [2][3].', sources)).toBe(
      `<p>Red ${button(1, 'notes.md, Setup')}, blue ${button(2, 'a &quot;quoted&quot; &lt;name&gt;.md')}[3].</p>\n`,
    );
  });

  it('leaves citations in code, links written [n](url) and answers without sources alone', () => {
    expect(markdownToHtml('`[1]` and [1](https://a.example/)', sources)).toBe(
      '<p><code>[1]</code> and <a href="https://a.example/" target="_blank" rel="noopener noreferrer">1</a></p>\n',
    );
    expect(markdownToHtml('```\n[1]\n```', sources)).not.toContain(
      '<button type="button" class="citation"',
    );
    expect(markdownToHtml('Red [1].')).toBe('<p>Red [1].</p>\n');
  });
});

describe('escapeHtml', () => {
  it('escapes every character that could open markup or an attribute', () => {
    expect(escapeHtml(`<a href='x' title="y">&</a>`)).toBe(
      '&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;&lt;/a&gt;',
    );
  });
});
