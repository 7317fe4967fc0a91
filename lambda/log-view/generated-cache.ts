/**
 * Generated log files, cached by key within a byte budget that the caller computes (what the
 * snapshot cache leaves of the shared budget), least recently used first out. A file that only
 * fits by evicting others is kept when it is used more often than each of them, else served and
 * not kept (core/frequency-admission.ts: plain LRU thrashes when readers cycle over more than the
 * budget). Concurrent requests for the same key share one generation; a failed generation is not
 * cached.
 */
import { FrequencyAdmission } from '../core/frequency-admission';

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
  /** Generated and served, but not kept (keeping it would evict more frequently used files). */
  notAdmitted: number;
  entries: number;
  bytes: number;
}

export class GeneratedCache<T extends Sized> {
  private readonly entries = new Map<string, Entry<T>>();
  private total = 0;
  private readonly counters = { hits: 0, misses: 0, evictions: 0, notAdmitted: 0 };
  private readonly admission = new FrequencyAdmission();

  constructor(private readonly budgetBytes: () => number) {}

  /** `U`: what `make` gives for keys of its kind (callers keep one kind per key). */
  get<U extends T>(key: string, make: () => Promise<U>): Promise<U> {
    this.admission.touch(key);
    // The budget shrinks as the snapshot cache grows: give back what it no longer leaves us.
    this.evict();
    const e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.entries.set(key, e);
      this.counters.hits++;
      return (e.value !== undefined ? Promise.resolve(e.value) : e.inflight!) as Promise<U>;
    }
    this.counters.misses++;
    const entry: Entry<T> = {};
    entry.inflight = make().then(
      (value) => {
        entry.inflight = undefined;
        if (this.entries.get(key) !== entry) return value;
        if (!this.makeRoom(key, value.bytes)) {
          this.entries.delete(key);
          this.counters.notAdmitted++;
          return value;
        }
        entry.value = value;
        this.total += value.bytes;
        return value;
      },
      (err: unknown) => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
        throw err;
      },
    );
    this.entries.set(key, entry);
    return entry.inflight as Promise<U>;
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

  /**
   * Room for `bytes` more under `key`: evicts least recently used finished entries if `key` is
   * used more often than each of them; false (nothing evicted) if it is not, or cannot fit.
   */
  private makeRoom(key: string, bytes: number): boolean {
    const budget = Math.max(0, this.budgetBytes());
    if (this.total + bytes <= budget) return true;
    const victims: [string, number][] = [];
    let left = this.total + bytes;
    for (const [k, e] of this.entries) {
      if (left <= budget) break;
      if (k === key || e.value === undefined) continue;
      victims.push([k, e.value.bytes]);
      left -= e.value.bytes;
    }
    if (
      left > budget ||
      !this.admission.admits(
        key,
        victims.map(([k]) => k),
      )
    )
      return false;
    for (const [k, b] of victims) {
      this.entries.delete(k);
      this.total -= b;
    }
    this.counters.evictions += victims.length;
    return true;
  }
}
