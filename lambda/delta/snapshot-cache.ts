/**
 * Snapshots per table, kept in module scope by the caller so they survive warm Lambda
 * invocations. One load per table at a time (concurrent requests share it), refreshed
 * incrementally at most every `ttlMs`, plus a refresh before a denial when a cheap probe shows
 * a newer commit, so requests for random unknown paths cannot hammer storage. Memory is
 * bounded by `maxBytes` (estimated, snapshots and histories together): a table that only fits by
 * evicting others is kept when it is used more often than each of them (least recently used
 * first), and otherwise served from its load and not kept (see core/frequency-admission.ts: plain
 * LRU made two tables over the budget reload each other on every request).
 */
import { FrequencyAdmission } from '../core/frequency-admission';
import type { Clock } from '../core/types';
import { StorageError } from '../storage/storage-backend';
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
/** Documented default for `snapshotStaleIfErrorMs` (also the config default). */
export const DEFAULT_STALE_IF_ERROR_MS = 60_000;
/** While a stale snapshot is served, how long before the log is tried again. */
const STALE_RETRY_MS = 1_000;

export interface SnapshotCacheOptions {
  ttlMs: number;
  maxBytes: number;
  clock: Clock;
  /** How long a "no newer commit" probe answer is reused (default 50 ms). */
  newCommitProbeTtlMs?: number;
  /**
   * How long past `ttlMs` a snapshot still serves when refreshing it fails for a passing reason
   * (storage throttled or unavailable), as HTTP's stale-if-error (default 60 s, 0: never).
   */
  staleIfErrorMs?: number;
  /**
   * "frequency" (default): a table that only fits by evicting others is kept if used more often
   * than each of them. "lru": every load is kept, least recently used out (the previous policy,
   * for comparison in bench/logshapes.ts).
   */
  policy?: 'frequency' | 'lru';
  /** Told of every finished load (first read of a table) or refresh, for metrics. */
  onLoad?: (load: SnapshotLoad) => void;
}

export interface SnapshotLoad {
  kind: 'load' | 'refresh';
  ok: boolean;
  ms: number;
  /** A failed refresh answered from the snapshot it could not refresh (stale if error). */
  stale?: boolean;
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
  /** Loads (or histories) served but not kept: keeping them would evict more frequently used tables. */
  notAdmitted: number;
  loadErrors: number;
  /** Refreshes that failed for a passing reason and served the snapshot they could not refresh. */
  staleServed: number;
  tables: number;
  /** Snapshots and histories together (the budget covers both). */
  bytes: number;
  /** Retained histories (time travel, change data): loads, incremental updates, failures. */
  history: HistoryCounters & { tables: number; bytes: number };
}

interface Entry {
  key: string;
  tableUri: string;
  snapshot?: Snapshot;
  /** When the log was last checked (clock ms). */
  checkedAt: number;
  /** After a refresh failed and the stale snapshot was served: no new try before this (clock ms). */
  retryAt?: number;
  /** Why `snapshot` is served stale (cleared by the next load that succeeds). */
  staleBecause?: unknown;
  /** The last probe for commit version+1 of `version`, shared by concurrent denials. */
  probe?: { version: number; at: number; seq: number; done: boolean; found: Promise<boolean> };
  /** The probe that begins when the running one ends, shared by the callers waiting for it. */
  nextProbe?: { version: number; found: Promise<boolean> };
  inflight?: Promise<Snapshot>;
  /** The retained history, once a request needed it. */
  history?: HistorySlot;
  /** This entry's bytes in the cache's running total (see recount). */
  counted: number;
}

export class SnapshotCache {
  private readonly entries = new Map<string, Entry>();
  /**
   * Bytes of the entries kept, as a running total (each entry's share updated when its snapshot,
   * its history or what was built for its snapshot changes): the filtered log view reads it on
   * every lookup, which must not walk every table and every caller's allowed set.
   */
  private total = 0;
  private readonly probeTtlMs: number;
  /** Probes in the order they began (see probeMark). */
  private probeSeq = 0;
  private readonly counters = {
    hits: 0,
    misses: 0,
    refreshes: { unchanged: 0, combined: 0, rebuilt: 0 } as Record<RefreshOutcome, number>,
    forcedRefreshes: 0,
    newCommitProbes: 0,
    newCommitProbesReused: 0,
    evictions: 0,
    notAdmitted: 0,
    loadErrors: 0,
    staleServed: 0,
  };
  private readonly admission = new FrequencyAdmission();
  /** Loads in the order they began (see `finished`). */
  private loadSeq = 0;
  /**
   * Per table, the last load to finish among those begun latest (held weakly): a load begun
   * earlier that finishes later (on an entry evicted and made again meanwhile) read an older log,
   * and answers with this one instead, so no request gets a version older than one already given.
   */
  private readonly finished = new Map<string, { seq: number; snap: WeakRef<Snapshot> }>();
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
    this.admission.touch(key);
    const e = this.entry(key, tableUri);
    if (e.inflight) return e.inflight;
    const now = this.opts.clock.now();
    if (e.snapshot && (now - e.checkedAt < this.opts.ttlMs || now < (e.retryAt ?? 0))) {
      this.counters.hits++;
      return e.snapshot;
    }
    return this.load(key, e, storage);
  }

  /**
   * Called before denying a path the snapshot does not know, so that a file committed a moment
   * ago is not refused. One short listing of the log after `version.json` (at most 8 keys: not a
   * HEAD, see logMovedPast) tells whether the log moved; only then is the snapshot refreshed.
   * Probes run one at a time per table and concurrent denials share them; a "nothing new" answer
   * is reused for `newCommitProbeTtlMs`, so floods of unknown paths cost at most one probe per
   * table per window. `seen` is the snapshot the caller decided on (used when the cache did not
   * keep one). `after` (a probeMark taken when the request arrived): only a probe begun since
   * answers (an earlier one may predate a commit another instance listed); callers arriving while
   * one runs share the next, so a flood of them still costs one listing at a time.
   */
  async refreshBeforeDenial(
    key: string,
    storage: DeltaStorage,
    tableUri: string,
    seen?: Snapshot,
    after?: number,
  ): Promise<Snapshot> {
    const e = this.entry(key, tableUri);
    if (e.inflight) return this.fresh(e, await e.inflight);
    // A table served but not kept has no snapshot here: probe with the one the caller just used
    // rather than load the whole table a second time for one request.
    const have = e.snapshot ?? seen;
    if (!have) return this.load(key, e, storage);
    if (!(await this.newerCommitExists(e, have, storage, after))) return have;
    if (e.inflight) return this.fresh(e, await e.inflight);
    this.counters.forcedRefreshes++;
    return this.fresh(e, await this.load(key, e, storage));
  }

  /** For refreshBeforeDenial's `after`: every probe begun after this call is numbered higher. */
  probeMark(): number {
    return this.probeSeq;
  }

  /**
   * A refusal may not rest on a snapshot served stale after a newer commit was seen: the file
   * may be in the commit that could not be read. The refresh's error answers instead (503).
   */
  private fresh(e: Entry, snapshot: Snapshot): Snapshot {
    if (e.staleBecause !== undefined && snapshot === e.snapshot) throw e.staleBecause;
    return snapshot;
  }

  private newerCommitExists(
    e: Entry,
    snapshot: Snapshot,
    storage: DeltaStorage,
    after: number | undefined,
  ): Promise<boolean> {
    const last = e.probe?.version === snapshot.version ? e.probe : undefined;
    const recent =
      after === undefined
        ? last !== undefined && (!last.done || this.opts.clock.now() - last.at < this.probeTtlMs)
        : last !== undefined && last.seq > after;
    if (recent) {
      this.counters.newCommitProbesReused++;
      return last!.found;
    }
    if (last && !last.done) return this.probeNext(e, last.found, snapshot, storage);
    return this.probe(e, snapshot, storage);
  }

  /** The probe that begins once `running` ends: one at a time per table, shared by the waiting. */
  private probeNext(
    e: Entry,
    running: Promise<boolean>,
    snapshot: Snapshot,
    storage: DeltaStorage,
  ): Promise<boolean> {
    if (e.nextProbe?.version === snapshot.version) return e.nextProbe.found;
    const settled = () => {};
    const found = running.then(settled, settled).then(() => {
      if (e.nextProbe?.found === found) e.nextProbe = undefined;
      return this.probe(e, snapshot, storage);
    });
    e.nextProbe = { version: snapshot.version, found };
    return found;
  }

  private probe(e: Entry, snapshot: Snapshot, storage: DeltaStorage): Promise<boolean> {
    const now = this.opts.clock.now();
    this.counters.newCommitProbes++;
    const found = logMovedPast(storage, snapshot.version).catch((err: unknown) => {
      if (e.probe === p) e.probe = undefined; // never reuse a failure
      throw err;
    });
    const p = { version: snapshot.version, at: now, seq: ++this.probeSeq, done: false, found };
    const done = () => {
      p.done = true;
    };
    found.then(done, done);
    e.probe = p;
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
    const slot = e.history;
    let h: History;
    try {
      h = await slot.get(snapshot, storage, this.opts.clock.now(), this.historyCounters, complete);
    } finally {
      this.recount(e);
    }
    if (this.entries.get(key) === e && !this.admit(key) && e.history === slot) {
      // Served, not kept: the table's snapshot stays, its history goes (failure backoff with it
      // is kept: the slot stays).
      slot.history = undefined;
      this.recount(e);
      this.counters.notAdmitted++;
    }
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
      bytes: this.total,
      history: {
        ...this.historyCounters,
        tables: entries.filter((e) => e.history?.history).length,
        bytes: entries.reduce((n, e) => n + (e.history?.estimatedBytes ?? 0), 0),
      },
    };
  }

  /** Bytes of what is kept, snapshots and histories together (O(1): a running total). */
  get bytes(): number {
    return this.total;
  }

  /** Drops a table (e.g. its mapping changed). */
  invalidate(key: string): void {
    this.drop(key);
    this.finished.delete(key);
  }

  private entry(key: string, tableUri: string): Entry {
    let e = this.entries.get(key);
    if (e && e.tableUri !== tableUri) {
      this.drop(key); // the alias now points elsewhere
      this.finished.delete(key);
      e = undefined;
    }
    if (!e) e = { key, tableUri, checkedAt: Number.NEGATIVE_INFINITY, counted: 0 };
    // Re-insert: Map order is the LRU order (oldest first).
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  /** Removes an entry and its bytes from the total. */
  private drop(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.total -= e.counted;
    e.counted = 0;
    e.snapshot?.watchBytes(undefined);
  }

  /** Brings the entry's share of the total up to date (O(1)); nothing for an entry not kept. */
  private recount(e: Entry): void {
    if (this.entries.get(e.key) !== e) return;
    const n = entryBytes(e);
    this.total += n - e.counted;
    e.counted = n;
  }

  /** Keeps `snap` as the entry's snapshot, its size followed from now on. */
  private keep(e: Entry, snap: Snapshot): void {
    if (e.snapshot !== snap) e.snapshot?.watchBytes(undefined);
    e.snapshot = snap;
    snap.watchBytes(() => {
      if (e.snapshot === snap) this.recount(e);
    });
    this.recount(e);
  }

  private load(key: string, e: Entry, storage: DeltaStorage): Promise<Snapshot> {
    const started = this.opts.clock.now();
    const seq = ++this.loadSeq;
    const prev = e.snapshot;
    if (!prev) this.counters.misses++;
    let replaced = false;
    const p = (async () => {
      if (!prev) return loadSnapshot(storage, { tableUri: e.tableUri });
      const r = await refreshSnapshot(prev, storage, { tableUri: e.tableUri });
      this.counters.refreshes[r.outcome]++;
      replaced = r.replaced === true;
      return r.snapshot;
    })();
    const report = (ok: boolean, stale = false) => {
      try {
        const ms = this.opts.clock.now() - started;
        this.opts.onLoad?.({ kind: prev ? 'refresh' : 'load', ok, ms, ...(stale ? { stale } : {}) });
      } catch {
        // Metrics never break a load.
      }
    };
    e.inflight = p.then(
      (loaded) => {
        report(true);
        // A load begun after this one (it listed a newer log) has already answered: serve that.
        const last = this.finished.get(key);
        const newer = last && last.seq > seq ? last.snap.deref() : undefined;
        const snap = newer ?? loaded;
        if (!newer) this.finished.set(key, { seq, snap: new WeakRef(loaded) });
        if (replaced) {
          // Another table (or a rolled-back one) now: what was learnt of the old log goes.
          e.history = undefined;
          e.probe = undefined;
          e.nextProbe = undefined;
        }
        // Not on an entry no longer cached: the newer one's size is followed by its own entry.
        if (!newer || this.entries.get(key) === e) this.keep(e, snap);
        e.checkedAt = started;
        e.inflight = undefined;
        e.staleBecause = undefined;
        e.retryAt = undefined;
        if (this.entries.get(key) === e && !this.admit(key)) {
          this.drop(key);
          this.counters.notAdmitted++;
        }
        return snap;
      },
      (err: unknown) => {
        const stale = prev !== undefined && e.snapshot === prev && this.servesStale(e, err);
        report(false, stale);
        e.inflight = undefined;
        this.counters.loadErrors++;
        if (stale) {
          this.counters.staleServed++;
          e.retryAt = this.opts.clock.now() + Math.min(STALE_RETRY_MS, this.opts.ttlMs);
          e.staleBecause = err;
          return prev;
        }
        if (!e.snapshot && this.entries.get(key) === e) this.drop(key);
        throw err;
      },
    );
    return e.inflight;
  }

  /**
   * Whether a failed refresh may answer from the snapshot it could not refresh. Safe: a file's
   * partition never changes, a file removed since stays readable for its retention anyway, and
   * grants are not in the snapshot. Only for storage that is throttled or down for a while (an S3
   * prefix answering SlowDown to log listings can still serve data), never for a log that no
   * longer reads, and only up to `staleIfErrorMs` past the snapshot's ttl.
   */
  private servesStale(e: Entry, err: unknown): boolean {
    const passing = err instanceof StorageError && (err.kind === 'Throttled' || err.kind === 'Unavailable');
    const limit = this.opts.staleIfErrorMs ?? DEFAULT_STALE_IF_ERROR_MS;
    const age = this.opts.clock.now() - e.checkedAt;
    // Within its ttl a snapshot is fresh anyway: a forced refresh (before a refusal) that fails
    // answers its error, and serves nothing stale.
    return passing && limit > 0 && age >= this.opts.ttlMs && age < this.opts.ttlMs + limit;
  }

  /**
   * Makes room for `key`'s entry, which just grew (a load, a refresh or a history): evicts the
   * least recently used other tables until the total fits, if `key` is used more often than each
   * of them. Returns false, evicting nothing, when it is not (or when it alone exceeds the budget):
   * the caller then drops what it added.
   */
  private admit(key: string): boolean {
    if (this.total <= this.opts.maxBytes) return true;
    const victims: string[] = [];
    let left = this.total;
    for (const [k, e] of this.entries) {
      if (left <= this.opts.maxBytes) break;
      if (k === key || e.inflight || e.counted === 0) continue;
      victims.push(k);
      left -= e.counted;
    }
    const lru = this.opts.policy === 'lru';
    if (!lru && (left > this.opts.maxBytes || !this.admission.admits(key, victims))) return false;
    for (const k of victims) this.drop(k);
    this.counters.evictions += victims.length;
    return true;
  }
}

function entryBytes(e: Entry): number {
  return (e.snapshot?.estimatedBytes ?? 0) + (e.history?.estimatedBytes ?? 0);
}
