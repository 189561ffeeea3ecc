// What the store needs from the browser besides IndexedDB: quota, persistence, Web Locks and the
// online state, behind one interface so tests can stand in for each of them.
import { StoreError, formatBytes } from './errors';

export interface StorageEnv {
  /** Bytes used and allowed for this origin, or null where the platform cannot tell. */
  estimate(): Promise<{ usage: number; quota: number } | null>;
  /** Asks for persistent storage; null where the platform has no such request. */
  persist(): Promise<boolean | null>;
  persisted(): Promise<boolean | null>;
  /** Runs `task` holding the named lock; fails with `busy` if another tab holds it. */
  withLock<T>(name: string, task: () => Promise<T>): Promise<T>;
  onLine(): boolean;
  /** Resolves when the browser reports it is back online (or rejects when `signal` aborts). */
  waitOnline(signal: AbortSignal): Promise<void>;
}

function busy(name: string): StoreError {
  return new StoreError(
    'busy',
    `${name.replace(/^layerwise-model:/, '')} is being downloaded, imported or verified in another tab. ` +
      'Wait for it to finish there, or close that tab, then try again.',
  );
}

/** The real browser (or Node, where locks and quota do not exist and one process holds the store). */
export function browserEnv(): StorageEnv {
  const nav = globalThis.navigator as Navigator | undefined;
  const held = new Set<string>();
  return {
    async estimate() {
      if (!nav?.storage?.estimate) return null;
      const { usage, quota } = await nav.storage.estimate();
      return usage === undefined || quota === undefined ? null : { usage, quota };
    },
    async persist() {
      return nav?.storage?.persist ? nav.storage.persist() : null;
    },
    async persisted() {
      return nav?.storage?.persisted ? nav.storage.persisted() : null;
    },
    async withLock(name, task) {
      if (nav?.locks) {
        return nav.locks.request(name, { ifAvailable: true }, async (lock) => {
          if (!lock) throw busy(name);
          return task();
        });
      }
      if (held.has(name)) throw busy(name);
      held.add(name);
      try {
        return await task();
      } finally {
        held.delete(name);
      }
    },
    onLine() {
      return nav?.onLine ?? true;
    },
    waitOnline(signal) {
      return new Promise((resolve, reject) => {
        const done = () => {
          globalThis.removeEventListener?.('online', done);
          signal.removeEventListener('abort', aborted);
          resolve();
        };
        const aborted = () => {
          globalThis.removeEventListener?.('online', done);
          reject(signal.reason);
        };
        if (signal.aborted) return aborted();
        globalThis.addEventListener?.('online', done);
        signal.addEventListener('abort', aborted, { once: true });
      });
    },
  };
}

export function lockName(id: string): string {
  return `layerwise-model:${id}`;
}

/** Refuses, with the numbers, a transfer that cannot fit in what this origin may still store. */
export async function checkQuota(
  env: StorageEnv,
  neededBytes: number,
  what: string,
): Promise<void> {
  const estimate = await env.estimate();
  if (!estimate) return;
  const free = Math.max(0, estimate.quota - estimate.usage);
  if (neededBytes > free) {
    throw new StoreError(
      'quota',
      `${what} needs ${formatBytes(neededBytes)} more, but only ${formatBytes(free)} of the ` +
        `${formatBytes(estimate.quota)} this site may use is free (${formatBytes(estimate.usage)} used). ` +
        'Delete a model in Storage or free disk space, then try again.',
    );
  }
}
