// What ingestion produces: a document's plain text, the structural blocks it was read as, and the
// chunks cut from them. Offsets are UTF-16 indices into `text`, so `text.slice(start, end)` is
// always the block's or chunk's exact text.

export type DocumentKind = 'text' | 'markdown' | 'html' | 'pdf' | 'docx' | 'code';

/** Where a piece of text sits in its document: a page (PDF) and the headings above it. */
export interface TextLocation {
  /** 1-based page number, for paged formats. */
  page?: number;
  /** The titles of the headings the text sits under, outermost first. */
  headings: string[];
}

/** A paragraph, heading, list item, code block or page line group, as the format marks it. */
export interface TextBlock extends TextLocation {
  start: number;
  end: number;
}

export interface ExtractedText {
  kind: DocumentKind;
  text: string;
  blocks: TextBlock[];
  /** Pages of a paged format; absent otherwise. */
  pages?: number;
}

export interface TextChunk extends TextLocation {
  index: number;
  start: number;
  end: number;
  text: string;
  /** Tokens of the chunk's text in the tokenizer it was cut with. */
  tokens: number;
}
