// The kernel variants the engine timed fastest, per adapter and model shape (the engine's key), in
// a database of their own, so a second load of a model on the same GPU skips the timing. A record
// that is not a choice (an older shape, a damaged write) reads as none and is timed again.
import { createStore, get, set, type UseStore } from 'idb-keyval';

/** One remembered choice: threads per output row of the matrix-vector kernels. */
export interface KernelChoice {
  lanesPerRow: number;
}

function isChoice(value: unknown): value is KernelChoice {
  const lanes = (value as Partial<KernelChoice> | null)?.lanesPerRow;
  return typeof lanes === 'number' && Number.isInteger(lanes) && lanes > 0;
}

export class KernelChoiceStore {
  constructor(private readonly db: UseStore = createStore('layerwise-kernel-choices', 'choices')) {}

  async get(key: string): Promise<KernelChoice | undefined> {
    const value: unknown = await get(key, this.db);
    return isChoice(value) ? { lanesPerRow: value.lanesPerRow } : undefined;
  }

  async set(key: string, choice: KernelChoice): Promise<void> {
    await set(key, { lanesPerRow: choice.lanesPerRow }, this.db);
  }
}
