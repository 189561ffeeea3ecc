// What the planner needs of a header: the shapes and settings, not the vocabulary.
import type { ModelHeader } from './types';

/** The header without the large metadata arrays (vocabulary, merges) the planner never reads. */
export function planningHeader(header: ModelHeader): ModelHeader {
  const metadata = Object.fromEntries(
    Object.entries(header.metadata).filter(([, v]) => !Array.isArray(v) || v.length <= 64),
  );
  return { ...header, metadata };
}
