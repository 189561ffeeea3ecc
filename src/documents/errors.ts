// Why a document could not be read. Each message says what happened and what to do; `code` lets
// the app and the tests tell the cases apart.

export type DocumentErrorCode =
  'empty' | 'too-large' | 'no-text' | 'unreadable' | 'unsupported' | 'cancelled';

export class DocumentError extends Error {
  override readonly name = 'DocumentError';
  constructor(
    readonly code: DocumentErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function cancelled(name: string): DocumentError {
  return new DocumentError('cancelled', `Adding "${name}" was cancelled; nothing was stored.`);
}
