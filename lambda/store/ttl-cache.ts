/**
 * A read-through cache for remote lookups: bounded (LRU), each entry trusted for a fixed TTL,
 * negative answers (`undefined`) cached too, one load in flight per key (single-flight: a burst
 * of requests for the same key costs one read). A failed load is never cached: the error goes to
 * every waiter and the next call tries again. A load begun a TTL or more ago is not joined: its
 * answer may have been read that long ago (a Lambda instance frozen with the call in flight,
 * thawed hours later), so the caller starts another, and the older one's answer, when it comes,
 * does not replace the newer's.
 *
 * With `misses`, negative answers are kept apart, in an LRU of their own with its own TTL: where
 * the keys are chosen by strangers (access key ids), a flood of misses then evicts only other
 * misses, never an answer that was found.
 */

import { Lru } from '../core/lru';
import { type Clock, systemClock } from '../core/types';

export interface TtlCacheOptions {
  ttlMs: number;
  maxEntries: number;
  clock?: Clock;
  /** Where negative answers go, when not with the others. */
  misses?: { ttlMs: number; maxEntries: number };
}

interface Entry<V> {
  value: V | undefined;
  expiresAt: number;
}

export class TtlCache<V> {
  private readonly entries: Lru<string, Entry<V>>;
  /** Negative answers, when kept apart (else `entries`). */
  private readonly misses: Lru<string, Entry<V>>;
  private readonly inFlight = new Map<string, { promise: Promise<V | undefined>; startedAt: number }>();
  private readonly clock: Clock;
  readonly ttlMs: number;
  readonly missTtlMs: number;

  constructor(options: TtlCacheOptions) {
    this.entries = new Lru(options.maxEntries);
    this.misses = options.misses ? new Lru(options.misses.maxEntries) : this.entries;
    this.clock = options.clock ?? systemClock;
    this.ttlMs = options.ttlMs;
    this.missTtlMs = options.misses?.ttlMs ?? options.ttlMs;
  }

  /** Entries held, misses included. */
  get size(): number {
    return this.entries.size + (this.misses === this.entries ? 0 : this.misses.size);
  }

  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const now = this.clock.now();
    const hit = this.entries.get(key) ?? (this.misses === this.entries ? undefined : this.misses.get(key));
    if (hit && hit.expiresAt > now) return hit.value;
    const pending = this.inFlight.get(key);
    if (pending && now - pending.startedAt < this.ttlMs) return pending.promise;
    const flight = { promise: load(), startedAt: now };
    // Only the newest load for a key writes its answer (an older one may end after it).
    const newest = () => this.inFlight.get(key) === flight;
    flight.promise = flight.promise.then(
      (value) => {
        if (!newest()) return value;
        this.inFlight.delete(key);
        this.forget(key);
        if (value === undefined) this.misses.set(key, { value, expiresAt: now + this.missTtlMs });
        else this.entries.set(key, { value, expiresAt: now + this.ttlMs });
        return value;
      },
      (error: unknown) => {
        if (newest()) {
          this.inFlight.delete(key);
          this.forget(key);
        }
        throw error;
      },
    );
    this.inFlight.set(key, flight);
    return flight.promise;
  }

  invalidate(key: string): void {
    this.forget(key);
  }

  clear(): void {
    this.entries.clear();
    this.misses.clear();
  }

  private forget(key: string): void {
    this.entries.delete(key);
    this.misses.delete(key);
  }
}
