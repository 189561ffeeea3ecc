// The kernel variants the engine timed fastest, per adapter and model shape (the engine's key), in
// a database of their own, so a second load of a model on the same GPU skips the timing. A record
// is a plain object of the engine's knobs; the engine uses it only when it equals one of its
// current candidates, so a record from older kernels (or a damaged one) is timed again.
import { createStore, get, set, type UseStore } from 'idb-keyval';

/** A plain object of kernel knobs (the engine's `VariantChoice`). */
export type KernelChoice = object;

function isPlainObject(value: unknown): value is KernelChoice {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class KernelChoiceStore {
  constructor(private readonly db: UseStore = createStore('layerwise-kernel-choices', 'choices')) {}

  async get(key: string): Promise<KernelChoice | undefined> {
    const value: unknown = await get(key, this.db);
    return isPlainObject(value) ? value : undefined;
  }

  async set(key: string, choice: KernelChoice): Promise<void> {
    await set(key, choice, this.db);
  }
}
