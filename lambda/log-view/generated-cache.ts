/**
 * Generated log files, cached by key within a byte budget that the caller computes (what the
 * snapshot cache leaves of the shared budget), least recently used first out. Concurrent requests
 * for the same key share one generation; a failed generation is not cached.
 */
export interface Sized {
  readonly bytes: number;
}

interface Entry<T> {
  value?: T;
  inflight?: Promise<T>;
}

export interface GeneratedCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  entries: number;
  bytes: number;
}

export class GeneratedCache<T extends Sized> {
  private readonly entries = new Map<string, Entry<T>>();
  private total = 0;
  private readonly counters = { hits: 0, misses: 0, evictions: 0 };

  constructor(private readonly budgetBytes: () => number) {}

  get(key: string, make: () => Promise<T>): Promise<T> {
    const e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.entries.set(key, e);
      this.counters.hits++;
      return e.value !== undefined ? Promise.resolve(e.value) : e.inflight!;
    }
    this.counters.misses++;
    const entry: Entry<T> = {};
    entry.inflight = make().then(
      (value) => {
        entry.inflight = undefined;
        if (this.entries.get(key) !== entry) return value;
        entry.value = value;
        this.total += value.bytes;
        this.evict();
        return value;
      },
      (err: unknown) => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
        throw err;
      },
    );
    this.entries.set(key, entry);
    return entry.inflight;
  }

  stats(): GeneratedCacheStats {
    return { ...this.counters, entries: this.entries.size, bytes: this.total };
  }

  /** Drops least recently used finished entries until the total fits the budget. */
  evict(): void {
    const budget = Math.max(0, this.budgetBytes());
    for (const [k, e] of this.entries) {
      if (this.total <= budget) break;
      if (e.value === undefined) continue;
      this.entries.delete(k);
      this.total -= e.value.bytes;
      this.counters.evictions++;
    }
  }
}
