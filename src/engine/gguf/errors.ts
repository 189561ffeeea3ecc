// Typed errors for reading model files. Each carries a machine-readable `code` so the app and the
// tests can tell problems apart, and a message that names the key or tensor and says what to do.

export type GgufErrorCode =
  | 'truncated'
  | 'bad-magic'
  | 'bad-version'
  | 'absurd-count'
  | 'bad-metadata'
  | 'duplicate-key'
  | 'duplicate-tensor'
  | 'misplaced-tensor'
  | 'unexpected-tensor'
  | 'offset-out-of-range'
  | 'unknown-architecture'
  | 'missing-tensor'
  | 'shape-mismatch'
  | 'unsupported-type';

/** The file is not a GGUF model this engine can read; `code` says which problem it has. */
export class GgufFormatError extends Error {
  override readonly name = 'GgufFormatError';
  constructor(
    readonly code: GgufErrorCode,
    message: string,
    /** The metadata key or tensor the problem was found in, when there is one. */
    readonly subject?: string,
  ) {
    super(message);
  }
}

export type SourceErrorCode = 'http-status' | 'no-range-support' | 'short-read' | 'out-of-range';

/** Reading bytes from a model source failed (network, server or caller), not the file's format. */
export class SourceReadError extends Error {
  override readonly name = 'SourceReadError';
  constructor(
    readonly code: SourceErrorCode,
    message: string,
  ) {
    super(message);
  }
}
