/**
 * Snapshots per table, kept in module scope by the caller so they survive warm Lambda
 * invocations. One load per table at a time (concurrent requests share it), refreshed
 * incrementally at most every `ttlMs`, plus a forced refresh before a denial that is
 * rate-limited per table so requests for random unknown paths cannot hammer storage. Memory is
 * bounded by evicting the least recently used tables beyond `maxBytes` (estimated).
 */
import type { Clock } from '../core/types';
import type { DeltaStorage } from './delta-storage';
import { loadSnapshot, type RefreshOutcome, refreshSnapshot } from './load-snapshot';
import type { Snapshot } from './snapshot';

/** Documented default for `snapshotTtlMs` (also the config default). */
export const DEFAULT_SNAPSHOT_TTL_MS = 5_000;
export const DEFAULT_MIN_FORCED_REFRESH_INTERVAL_MS = 1_000;

export interface SnapshotCacheOptions {
  ttlMs: number;
  maxBytes: number;
  clock: Clock;
  /** Minimum time between two forced refreshes of one table (default 1000 ms). */
  minForcedRefreshIntervalMs?: number;
}

export interface SnapshotCacheStats {
  hits: number;
  misses: number;
  refreshes: Record<RefreshOutcome, number>;
  forcedRefreshes: number;
  /** Forced refreshes that had to wait for the per-table rate-limit window (then shared one load). */
  forcedRefreshesThrottled: number;
  evictions: number;
  loadErrors: number;
  tables: number;
  bytes: number;
}

interface Entry {
  tableUri: string;
  snapshot?: Snapshot;
  /** When the log was last checked (clock ms). */
  checkedAt: number;
  lastForcedAt: number;
  /** A forced refresh waiting for the rate-limit window, shared by every caller. */
  pendingForced?: Promise<Snapshot>;
  inflight?: Promise<Snapshot>;
}

export class SnapshotCache {
  private readonly entries = new Map<string, Entry>();
  private readonly minForcedMs: number;
  private readonly counters = {
    hits: 0,
    misses: 0,
    refreshes: { unchanged: 0, combined: 0, rebuilt: 0 } as Record<RefreshOutcome, number>,
    forcedRefreshes: 0,
    forcedRefreshesThrottled: 0,
    evictions: 0,
    loadErrors: 0,
  };

  constructor(private readonly opts: SnapshotCacheOptions) {
    this.minForcedMs = opts.minForcedRefreshIntervalMs ?? DEFAULT_MIN_FORCED_REFRESH_INTERVAL_MS;
  }

  /** The table's snapshot, at most `ttlMs` old (a refresh reads only the new commits). */
  async get(key: string, storage: DeltaStorage, tableUri: string): Promise<Snapshot> {
    const e = this.entry(key, tableUri);
    if (e.inflight) return e.inflight;
    if (e.snapshot && this.opts.clock.now() - e.checkedAt < this.opts.ttlMs) {
      this.counters.hits++;
      return e.snapshot;
    }
    return this.load(key, e, storage);
  }

  /**
   * Called before denying a path the snapshot does not know: refreshes once (shared with any
   * refresh in flight), unless this table was force-refreshed less than the minimum interval ago.
   */
  async refreshBeforeDenial(key: string, storage: DeltaStorage, tableUri: string): Promise<Snapshot> {
    const e = this.entry(key, tableUri);
    if (e.inflight) return e.inflight;
    if (!e.snapshot) return this.load(key, e, storage);
    if (e.pendingForced) return e.pendingForced;
    const wait = e.lastForcedAt + this.minForcedMs - this.opts.clock.now();
    if (wait <= 0) return this.forcedLoad(key, e, storage);
    // Within the rate limit: do not deny on a stale view (the file may have been committed a
    // moment ago); wait for the window and share one refresh among every caller that asks.
    this.counters.forcedRefreshesThrottled++;
    e.pendingForced = new Promise<void>((resolve) => setTimeout(resolve, wait).unref())
      .then(() => this.forcedLoad(key, e, storage))
      .finally(() => {
        e.pendingForced = undefined;
      });
    return e.pendingForced;
  }

  private forcedLoad(key: string, e: Entry, storage: DeltaStorage): Promise<Snapshot> {
    e.lastForcedAt = this.opts.clock.now();
    this.counters.forcedRefreshes++;
    return this.load(key, e, storage);
  }

  stats(): SnapshotCacheStats {
    return {
      ...this.counters,
      refreshes: { ...this.counters.refreshes },
      tables: [...this.entries.values()].filter((e) => e.snapshot).length,
      bytes: this.totalBytes(),
    };
  }

  /** Drops a table (e.g. its mapping changed). */
  invalidate(key: string): void {
    this.entries.delete(key);
  }

  private entry(key: string, tableUri: string): Entry {
    let e = this.entries.get(key);
    if (e && e.tableUri !== tableUri) e = undefined; // the alias now points elsewhere
    if (!e) e = { tableUri, checkedAt: Number.NEGATIVE_INFINITY, lastForcedAt: Number.NEGATIVE_INFINITY };
    // Re-insert: Map order is the LRU order (oldest first).
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  private load(key: string, e: Entry, storage: DeltaStorage): Promise<Snapshot> {
    const started = this.opts.clock.now();
    const prev = e.snapshot;
    if (!prev) this.counters.misses++;
    const p = (async () => {
      if (!prev) return loadSnapshot(storage, { tableUri: e.tableUri });
      const r = await refreshSnapshot(prev, storage, { tableUri: e.tableUri });
      this.counters.refreshes[r.outcome]++;
      return r.snapshot;
    })();
    e.inflight = p.then(
      (snap) => {
        e.snapshot = snap;
        e.checkedAt = started;
        e.inflight = undefined;
        this.evict(key);
        return snap;
      },
      (err: unknown) => {
        e.inflight = undefined;
        this.counters.loadErrors++;
        if (!e.snapshot && this.entries.get(key) === e) this.entries.delete(key);
        throw err;
      },
    );
    return e.inflight;
  }

  private totalBytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.snapshot?.estimatedBytes ?? 0;
    return n;
  }

  /** Evicts least recently used tables (never `keep`) until the estimate fits the budget. */
  private evict(keep: string): void {
    let total = this.totalBytes();
    for (const [k, e] of this.entries) {
      if (total <= this.opts.maxBytes) break;
      if (k === keep || e.inflight || !e.snapshot) continue;
      total -= e.snapshot.estimatedBytes;
      this.entries.delete(k);
      this.counters.evictions++;
    }
  }
}
