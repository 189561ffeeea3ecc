// Which view is showing, kept in the URL hash (`#/hardware`, `#/chat/<id>`) so a reload keeps the
// view and a link can open one directly.

export interface Route {
  view: string;
  /** Path segments after the view id, for views with their own sub-pages. */
  rest: string[];
}

export function parseHash(hash: string): Route {
  const segments = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => decodeURIComponent(s));
  return { view: segments[0] ?? '', rest: segments.slice(1) };
}

export function hashFor(view: string, ...rest: string[]): string {
  return `#/${[view, ...rest].map(encodeURIComponent).join('/')}`;
}

class Router {
  route = $state<Route>(parseHash(globalThis.location?.hash ?? ''));
  /** The view shown before this one; null on the first view of the visit. */
  previousView: string | null = null;

  constructor() {
    globalThis.addEventListener?.('hashchange', () => {
      this.previousView = this.route.view;
      this.route = parseHash(location.hash);
    });
  }

  navigate(view: string, ...rest: string[]): void {
    location.hash = hashFor(view, ...rest);
  }
}

export const router = new Router();
