/**
 * A bounded least-recently-used map (a Map keeps insertion order, so re-inserting on access makes
 * the first key the least recently used). Caches keyed by attacker-influenced strings (access key
 * ids) must be bounded, or a flood of random ids grows memory without limit.
 *
 * With `weigh`, also bounded by the values' total weight (their bytes): a value heavier than the
 * bound on its own is not kept (and evicts nothing). `maxWeight` is read at each insertion (a budget
 * that moves).
 */
export interface LruWeights<V> {
  weigh(value: V): number;
  maxWeight(): number;
}

export class Lru<K, V> {
  private readonly entries = new Map<K, V>();
  private total = 0;

  constructor(
    readonly maxEntries: number,
    private readonly weights?: LruWeights<V>,
    /** Told of every value that leaves: deleted, replaced, evicted or cleared. */
    private readonly onDrop?: (key: K, value: V) => void,
  ) {
    if (!(maxEntries >= 1)) throw new RangeError('maxEntries must be at least 1');
  }

  get size(): number {
    return this.entries.size;
  }

  /** The values' total weight (0 without `weigh`). */
  get weight(): number {
    return this.total;
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    this.delete(key);
    const weight = this.weights ? this.weights.weigh(value) : 0;
    const maxWeight = this.weights ? this.weights.maxWeight() : Number.POSITIVE_INFINITY;
    // Too heavy on its own: not kept, and nothing else is dropped for it.
    if (weight > maxWeight) return;
    this.entries.set(key, value);
    this.total += weight;
    while (this.entries.size > this.maxEntries || this.total > maxWeight) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
  }

  /** Values from least to most recently used (no reordering). */
  values(): IterableIterator<V> {
    return this.entries.values();
  }

  delete(key: K): boolean {
    const value = this.entries.get(key);
    if (value === undefined) return false;
    this.entries.delete(key);
    if (this.weights) this.total -= this.weights.weigh(value);
    this.onDrop?.(key, value);
    return true;
  }

  clear(): void {
    const dropped = this.onDrop ? [...this.entries] : [];
    this.entries.clear();
    this.total = 0;
    for (const [k, v] of dropped) this.onDrop!(k, v);
  }
}
