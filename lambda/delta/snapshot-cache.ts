/**
 * Snapshots per table, kept in module scope by the caller so they survive warm Lambda
 * invocations. One load per table at a time (concurrent requests share it), refreshed
 * incrementally at most every `ttlMs`, plus a refresh before a denial when a cheap probe shows
 * a newer commit, so requests for random unknown paths cannot hammer storage. Memory is
 * bounded by evicting the least recently used tables beyond `maxBytes` (estimated).
 */
import type { Clock } from '../core/types';
import type { DeltaStorage } from './delta-storage';
import type { History } from './history';
import { type HistoryCounters, HistorySlot } from './history-slot';
import { loadSnapshot, type RefreshOutcome, refreshSnapshot } from './load-snapshot';
import { logMovedPast } from './log-segment';
import type { Snapshot } from './snapshot';

/** Documented default for `snapshotTtlMs` (also the config default). */
export const DEFAULT_SNAPSHOT_TTL_MS = 5_000;
/** How long a "no newer commit" answer is reused before a denial probes the log again. */
export const DEFAULT_NEW_COMMIT_PROBE_TTL_MS = 50;

export interface SnapshotCacheOptions {
  ttlMs: number;
  maxBytes: number;
  clock: Clock;
  /** How long a "no newer commit" probe answer is reused (default 50 ms). */
  newCommitProbeTtlMs?: number;
  /** Told of every finished load (first read of a table) or refresh, for metrics. */
  onLoad?: (load: SnapshotLoad) => void;
}

export interface SnapshotLoad {
  kind: 'load' | 'refresh';
  ok: boolean;
  ms: number;
}

export interface SnapshotCacheStats {
  hits: number;
  misses: number;
  refreshes: Record<RefreshOutcome, number>;
  forcedRefreshes: number;
  /** Probes for a newer commit made before a denial (one short log listing each). */
  newCommitProbes: number;
  /** Denials answered from a recent probe, without touching storage. */
  newCommitProbesReused: number;
  evictions: number;
  loadErrors: number;
  tables: number;
  /** Snapshots and histories together (the budget covers both). */
  bytes: number;
  /** Retained histories (time travel, change data): loads, incremental updates, failures. */
  history: HistoryCounters & { tables: number; bytes: number };
}

interface Entry {
  tableUri: string;
  snapshot?: Snapshot;
  /** When the log was last checked (clock ms). */
  checkedAt: number;
  /** The last probe for commit version+1 of `version`, shared by concurrent denials. */
  probe?: { version: number; at: number; found: Promise<boolean> };
  inflight?: Promise<Snapshot>;
  /** The retained history, once a request needed it. */
  history?: HistorySlot;
}

export class SnapshotCache {
  private readonly entries = new Map<string, Entry>();
  private readonly probeTtlMs: number;
  private readonly counters = {
    hits: 0,
    misses: 0,
    refreshes: { unchanged: 0, combined: 0, rebuilt: 0 } as Record<RefreshOutcome, number>,
    forcedRefreshes: 0,
    newCommitProbes: 0,
    newCommitProbesReused: 0,
    evictions: 0,
    loadErrors: 0,
  };
  private readonly historyCounters: HistoryCounters = {
    loads: 0,
    recentLoads: 0,
    updates: 0,
    failures: 0,
    failuresReused: 0,
  };

  constructor(private readonly opts: SnapshotCacheOptions) {
    this.probeTtlMs = opts.newCommitProbeTtlMs ?? DEFAULT_NEW_COMMIT_PROBE_TTL_MS;
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
   * Called before denying a path the snapshot does not know, so that a file committed a moment
   * ago is not refused. One short listing of the log after `version.json` (at most 8 keys: not a
   * HEAD, see logMovedPast) tells whether the log moved; only then is the snapshot refreshed.
   * Concurrent denials share the probe, and a "nothing new" answer is reused for
   * `newCommitProbeTtlMs`, so floods of unknown paths cost at most one probe per table per window.
   */
  async refreshBeforeDenial(key: string, storage: DeltaStorage, tableUri: string): Promise<Snapshot> {
    const e = this.entry(key, tableUri);
    if (e.inflight) return e.inflight;
    if (!e.snapshot) return this.load(key, e, storage);
    if (!(await this.newerCommitExists(e, e.snapshot, storage))) return e.snapshot;
    if (e.inflight) return e.inflight;
    this.counters.forcedRefreshes++;
    return this.load(key, e, storage);
  }

  private newerCommitExists(e: Entry, snapshot: Snapshot, storage: DeltaStorage): Promise<boolean> {
    const now = this.opts.clock.now();
    const last = e.probe;
    if (last && last.version === snapshot.version && now - last.at < this.probeTtlMs) {
      this.counters.newCommitProbesReused++;
      return last.found;
    }
    this.counters.newCommitProbes++;
    const found = logMovedPast(storage, snapshot.version).catch((err: unknown) => {
      if (e.probe?.found === found) e.probe = undefined; // never reuse a failure
      throw err;
    });
    e.probe = { version: snapshot.version, at: now, found };
    return found;
  }

  /**
   * The table's retained history at `snapshot`'s version or later (see history-slot.ts): loaded
   * on first use, then brought forward incrementally; its memory counts in the cache's budget.
   * `complete: false` accepts a recent history (cheaper; it can serve but not refuse).
   */
  async history(
    key: string,
    storage: DeltaStorage,
    tableUri: string,
    snapshot: Snapshot,
    complete = true,
  ): Promise<History> {
    const e = this.entry(key, tableUri);
    e.history ??= new HistorySlot();
    const h = await e.history.get(snapshot, storage, this.opts.clock.now(), this.historyCounters, complete);
    this.evict(key);
    return h;
  }

  /** The history if one is loaded (no I/O); it may be older than the snapshot. */
  loadedHistory(key: string): History | undefined {
    return this.entries.get(key)?.history?.history;
  }

  stats(): SnapshotCacheStats {
    const entries = [...this.entries.values()];
    return {
      ...this.counters,
      refreshes: { ...this.counters.refreshes },
      tables: entries.filter((e) => e.snapshot).length,
      bytes: this.totalBytes(),
      history: {
        ...this.historyCounters,
        tables: entries.filter((e) => e.history?.history).length,
        bytes: entries.reduce((n, e) => n + (e.history?.estimatedBytes ?? 0), 0),
      },
    };
  }

  /** Drops a table (e.g. its mapping changed). */
  invalidate(key: string): void {
    this.entries.delete(key);
  }

  private entry(key: string, tableUri: string): Entry {
    let e = this.entries.get(key);
    if (e && e.tableUri !== tableUri) e = undefined; // the alias now points elsewhere
    if (!e) e = { tableUri, checkedAt: Number.NEGATIVE_INFINITY };
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
    const report = (ok: boolean) => {
      try {
        this.opts.onLoad?.({ kind: prev ? 'refresh' : 'load', ok, ms: this.opts.clock.now() - started });
      } catch {
        // Metrics never break a load.
      }
    };
    e.inflight = p.then(
      (snap) => {
        report(true);
        e.snapshot = snap;
        e.checkedAt = started;
        e.inflight = undefined;
        this.evict(key);
        return snap;
      },
      (err: unknown) => {
        report(false);
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
    for (const e of this.entries.values()) n += entryBytes(e);
    return n;
  }

  /** Evicts least recently used tables (never `keep`) until the estimate fits the budget. */
  private evict(keep: string): void {
    let total = this.totalBytes();
    for (const [k, e] of this.entries) {
      if (total <= this.opts.maxBytes) break;
      if (k === keep || e.inflight || entryBytes(e) === 0) continue;
      total -= entryBytes(e);
      this.entries.delete(k);
      this.counters.evictions++;
    }
  }
}

function entryBytes(e: Entry): number {
  return (e.snapshot?.estimatedBytes ?? 0) + (e.history?.estimatedBytes ?? 0);
}
