import { Lru } from '../core/lru';
import { type Clock, systemClock } from '../core/types';
import type { AccessKey, CredentialStore } from './credential-store';

export interface CachingCredentialStoreOptions {
  /** How long a found key is trusted (a revoked key keeps working at most this long). */
  ttlMs?: number;
  /** How long "no such key" is remembered (a new key is refused at most this long). */
  negativeTtlMs?: number;
  /** Bound on cached lookups, least recently used evicted (unknown ids cannot grow it). */
  maxEntries?: number;
  clock?: Clock;
}

interface Entry {
  key: AccessKey | undefined;
  expiresAt: number;
}

/**
 * Remembers lookups of a slower store (DynamoDB) for a short while, found and not found alike,
 * and shares one in-flight lookup between concurrent requests for the same key id. A lookup
 * that throws is never cached: the error reaches the caller, which fails closed.
 */
export class CachingCredentialStore implements CredentialStore {
  private readonly entries: Lru<string, Entry>;
  private readonly inFlight = new Map<string, Promise<AccessKey | undefined>>();
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;
  private readonly clock: Clock;

  constructor(
    private readonly store: CredentialStore,
    options: CachingCredentialStoreOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.negativeTtlMs = options.negativeTtlMs ?? 10_000;
    this.clock = options.clock ?? systemClock;
    this.entries = new Lru(options.maxEntries ?? 1_000);
  }

  async lookup(accessKeyId: string): Promise<AccessKey | undefined> {
    const cached = this.entries.get(accessKeyId);
    if (cached && cached.expiresAt > this.clock.now()) return cached.key;
    if (cached) this.entries.delete(accessKeyId);

    const pending = this.inFlight.get(accessKeyId);
    if (pending) return pending;
    const lookup = this.load(accessKeyId);
    this.inFlight.set(accessKeyId, lookup);
    try {
      return await lookup;
    } finally {
      this.inFlight.delete(accessKeyId);
    }
  }

  /** Forgets one key id (after a revocation through the admin path, for instance). */
  invalidate(accessKeyId: string): void {
    this.entries.delete(accessKeyId);
  }

  private async load(accessKeyId: string): Promise<AccessKey | undefined> {
    const key = await this.store.lookup(accessKeyId);
    const usable = key && key.status !== 'revoked' ? key : undefined;
    const ttl = usable ? this.ttlMs : this.negativeTtlMs;
    if (ttl > 0) this.entries.set(accessKeyId, { key: usable, expiresAt: this.clock.now() + ttl });
    return usable;
  }
}
