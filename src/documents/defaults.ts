// Default retrieval settings, apart from the search code so the page can show them without
// loading the search library.

export interface SearchSettings {
  topK: number;
  /** Vector hits below this cosine similarity are not counted. */
  similarityFloor: number;
}

export const DEFAULT_SEARCH: SearchSettings = { topK: 6, similarityFloor: 0.3 };
