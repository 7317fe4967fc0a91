/**
 * A read-through cache for remote lookups: bounded (LRU), each entry trusted for a fixed TTL,
 * negative answers (`undefined`) cached like positive ones, one load in flight per key
 * (single-flight: a burst of requests for the same key costs one read). A failed load is never
 * cached: the error goes to every waiter and the next call tries again.
 */

import { Lru } from '../core/lru';
import { type Clock, systemClock } from '../core/types';

export interface TtlCacheOptions {
  ttlMs: number;
  maxEntries: number;
  clock?: Clock;
}

interface Entry<V> {
  value: V | undefined;
  expiresAt: number;
}

export class TtlCache<V> {
  private readonly entries: Lru<string, Entry<V>>;
  private readonly inFlight = new Map<string, Promise<V | undefined>>();
  private readonly clock: Clock;
  readonly ttlMs: number;

  constructor(options: TtlCacheOptions) {
    this.entries = new Lru(options.maxEntries);
    this.clock = options.clock ?? systemClock;
    this.ttlMs = options.ttlMs;
  }

  get size(): number {
    return this.entries.size;
  }

  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > this.clock.now()) return hit.value;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const started = this.clock.now();
    const promise = load().then(
      (value) => {
        this.inFlight.delete(key);
        this.entries.set(key, { value, expiresAt: started + this.ttlMs });
        return value;
      },
      (error: unknown) => {
        this.inFlight.delete(key);
        this.entries.delete(key);
        throw error;
      },
    );
    this.inFlight.set(key, promise);
    return promise;
  }

  invalidate(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
