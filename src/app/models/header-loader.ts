// Reads GGUF headers for planning: from a URL with Range requests (a few MB for the vocabulary,
// never the weights), from a local file, or from a stored model's chunks. URLs and files are read
// in a worker of their own (engine/header-client), so a million-token vocabulary never stalls the
// page; the parser stays out of the app shell. Headers of pinned URLs are kept in localStorage
// without the vocabulary, because the planner needs only the shapes and a pinned revision never
// changes.
import type { ModelHeader } from '../../engine/gguf/types';
import { planningHeader } from '../../engine/gguf/planning-header';

const CACHE_PREFIX = 'layerwise:plan-header:';

export { planningHeader };

function isPinned(url: string): boolean {
  return /\/resolve\/[0-9a-f]{40}\//.test(url);
}

function cached(url: string): ModelHeader | null {
  try {
    const text = globalThis.localStorage?.getItem(CACHE_PREFIX + url);
    return text ? (JSON.parse(text) as ModelHeader) : null;
  } catch {
    return null;
  }
}

function remember(url: string, header: ModelHeader): void {
  try {
    globalThis.localStorage?.setItem(CACHE_PREFIX + url, JSON.stringify(header));
  } catch {
    // A full or refused localStorage only costs a refetch next time.
  }
}

/**
 * `remember`: keep the header even if the URL is not pinned to a revision (catalogue files, whose
 * shapes the planner needs and which are read once, not at every visit).
 */
export async function headerFromUrl(
  url: string,
  options: { signal?: AbortSignal; remember?: boolean } = {},
): Promise<ModelHeader> {
  const { signal } = options;
  const keep = isPinned(url) || options.remember === true;
  const hit = keep ? cached(url) : null;
  if (hit) return hit;
  const { readHeaderInWorker } = await import('../../engine/header-client');
  let header;
  try {
    header = await readHeaderInWorker({ type: 'url', url }, { signal });
  } catch (error) {
    // fetch() rejects with a bare TypeError when the host cannot be reached at all.
    if (error instanceof TypeError) {
      throw new Error(
        `${new URL(url).host} could not be reached (offline, blocked, or no CORS): check the connection and try again.`,
        { cause: error },
      );
    }
    throw error;
  }
  if (keep) remember(url, header);
  return header;
}

/** The header of a stored model, read from its chunks: for models whose host cannot be planned from. */
export async function headerFromStore(id: string): Promise<ModelHeader> {
  const { readHeaderInWorker } = await import('../../engine/header-client');
  return readHeaderInWorker({ type: 'store', modelId: id });
}

export async function headerFromFile(file: File): Promise<ModelHeader> {
  const { readHeaderInWorker } = await import('../../engine/header-client');
  return readHeaderInWorker({ type: 'file', file, name: file.name });
}

/**
 * A pasted address as a downloadable file URL: Hugging Face page links (`/blob/`) become download
 * links (`/resolve/`). Returns a message instead when the text is not an http(s) address.
 */
export function parseModelUrl(text: string): { href: string; label: string } | { error: string } {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return {
      error: `"${text.trim()}" is not a web address: paste the full https:// link to a .gguf file.`,
    };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { error: `Only http(s) addresses can be downloaded, not ${url.protocol}` };
  }
  if (url.hostname === 'huggingface.co') url.pathname = url.pathname.replace('/blob/', '/resolve/');
  const label = decodeURIComponent(url.pathname.split('/').pop() || url.hostname);
  return { href: url.href, label };
}
