/**
 * The retained history of a table, beside its newest Snapshot: the files that a version still
 * reconstructable from the log references but the newest snapshot does not, with their
 * partition tuple and how long they stay readable.
 * - a removed data file (or the deletion-vector file of one): readable until its
 *   `deletionTimestamp` plus `delta.deletedFileRetentionDuration`, after which VACUUM may delete it;
 * - a change-data file (`cdc` action) of a retained commit: readable while the commit is retained.
 * Files active in the newest snapshot are not repeated here. Immutable, like Snapshot: an update
 * returns a new History sharing the large parts (path index, record store, tuple interner).
 *
 * A *recent* history (complete = false) knows only the newest checkpoint's tombstones and the
 * commits after it: enough to serve most removed files cheaply, never enough to refuse a path.
 *
 * Lookup: relative path → head of a short chain of records (a path removed twice, a DV file
 * shared by files of several partitions). Records live in an append-only typed-array store.
 *
 * For other modules (e.g. a filtered log view): get a table's history with
 * `SnapshotCache.history(key, storage, tableUri, snapshot)`; ask it `recordsOf(path)` /
 * `partitionValuesOf(path)` for a removed or change-data file (the values also of removes that
 * carry none); `retainedLog()` gives the retained range, and `loadSnapshot(storage, { version })`
 * the files of any retained version.
 */
import type { LayeredMap } from './layered-map';
import type { PartitionTuples } from './partition-tuples';
import { PathIndex } from './path-index';
import { MULTI_TUPLE, NO_TUPLE, type PartitionColumn, type SnapshotView } from './snapshot-view';

/** deletedAt of a change-data record: it never expires by time, only when its commit is cleaned up. */
export const CHANGE_DATA = Number.POSITIVE_INFINITY;

/** One reason a path is readable in history. */
export interface HistoryRecord {
  tuple: number;
  /** When the file was removed (ms since epoch), or CHANGE_DATA. */
  deletedAt: number;
  /** The commit that removed it / wrote the change data (the checkpoint version for tombstones). */
  version: number;
}

/** Append-only record storage shared by a History and the Histories forked from it. */
export class RecordStore {
  tuple = new Int32Array(1024);
  deletedAt = new Float64Array(1024);
  version = new Int32Array(1024);
  /** Next record of the same path, or -1. */
  next = new Int32Array(1024);
  count = 0;

  push(tuple: number, deletedAt: number, version: number, next: number): number {
    if (this.count === this.tuple.length) this.grow(this.count * 2);
    const r = this.count++;
    this.tuple[r] = tuple;
    this.deletedAt[r] = deletedAt;
    this.version[r] = version;
    this.next[r] = next;
    return r;
  }

  get byteSize(): number {
    return this.tuple.length * 20;
  }

  private grow(n: number): void {
    const g = <T extends Int32Array | Float64Array>(a: T, C: new (n: number) => T): T => {
      const b = new C(n);
      b.set(a);
      return b;
    };
    this.tuple = g(this.tuple, Int32Array);
    this.deletedAt = g(this.deletedAt, Float64Array);
    this.version = g(this.version, Int32Array);
    this.next = g(this.next, Int32Array);
  }
}

export interface HistoryInfo {
  /** Log files read to build (or bring forward) this history, and backend requests made. */
  logFilesRead: number;
  requests: number;
  bytesRead: number;
  /** Tombstones read from a checkpoint. */
  tombstones: number;
  /** loaded: complete; recent: only the newest checkpoint onwards; updated: brought forward. */
  outcome: 'loaded' | 'recent' | 'updated';
}

export class History implements SnapshotView {
  readonly unsupportedReaderFeatures: readonly string[] = [];
  readonly tupleCount: number;
  readonly fileCount: number;
  readonly estimatedBytes: number;

  constructor(
    /** The newest version covered (the snapshot's version when it was built). */
    readonly version: number,
    /** The oldest version still reconstructable from the retained log. */
    readonly oldestVersion: number,
    readonly partitionColumns: readonly PartitionColumn[],
    /** `delta.deletedFileRetentionDuration` at `version`, in ms. */
    readonly retentionMs: number,
    /** @internal frozen: relative path → head record. */
    readonly paths: LayeredMap<string, number>,
    /** @internal shared, append-only. */
    readonly records: RecordStore,
    /** @internal shared, append-only. */
    readonly tuples: PartitionTuples,
    readonly info: HistoryInfo,
    /** False for a recent history: a path it does not know may still be in the retained log. */
    readonly complete = true,
    /**
     * Removed files (and their deletion-vector files) whose partition values it could not find:
     * the remove carried none and the add is older. A recent history's may be placed by the
     * complete history; a complete history's never are (their adds are not in the retained log).
     */
    readonly unplaced: ReadonlySet<string> = new Set(),
  ) {
    this.tupleCount = tuples.count;
    this.fileCount = paths.size;
    const { base, top } = paths.layers;
    const baseBytes = base instanceof PathIndex ? base.byteSize : base.size * 160;
    let unplacedBytes = 0;
    for (const p of unplaced) unplacedBytes += 64 + 2 * p.length;
    this.estimatedBytes =
      baseBytes + top * 160 + records.byteSize + tuples.estimatedBytes + unplacedBytes + 1024;
  }

  tupleValues(t: number): readonly (string | null)[] {
    return this.tuples.tupleValues(t);
  }

  /** Head record of a path, or -1. */
  head(relPath: string): number {
    return this.paths.get(relPath) ?? -1;
  }

  /** Calls visit for every record of a path (newest first) until it returns true. */
  someRecord(
    relPath: string,
    visit: (tuple: number, deletedAt: number, version: number) => boolean,
  ): boolean {
    const s = this.records;
    for (let r = this.head(relPath); r >= 0; r = s.next[r]!) {
      if (visit(s.tuple[r]!, s.deletedAt[r]!, s.version[r]!)) return true;
    }
    return false;
  }

  /** The records of a path, newest first (empty when history does not know it). */
  recordsOf(relPath: string): HistoryRecord[] {
    const out: HistoryRecord[] = [];
    this.someRecord(relPath, (tuple, deletedAt, version) => {
      out.push({ tuple, deletedAt, version });
      return false;
    });
    return out;
  }

  /** When a record stops being readable (ms since epoch). */
  expiresAt(deletedAt: number): number {
    return deletedAt === CHANGE_DATA ? CHANGE_DATA : deletedAt + this.retentionMs;
  }

  /**
   * The partition values of a file that a retained version referenced and the newest snapshot
   * no longer does (aligned with partitionColumns), or undefined when history does not know it
   * or knows it in several partitions (a shared deletion-vector file: see recordsOf).
   */
  partitionValuesOf(relPath: string): readonly (string | null)[] | undefined {
    const t = this.tupleOf(relPath);
    return t >= 0 ? this.tupleValues(t) : undefined;
  }

  // SnapshotView: tuples regardless of expiry (the caller checks time with someRecord/expiresAt).

  tupleOf(relPath: string): number {
    let t = NO_TUPLE;
    this.someRecord(relPath, (tuple) => {
      if (t === NO_TUPLE) t = tuple;
      else if (t !== tuple) t = MULTI_TUPLE;
      return t === MULTI_TUPLE;
    });
    return t;
  }

  tuplesOf(relPath: string): readonly number[] {
    return [...new Set(this.recordsOf(relPath).map((r) => r.tuple))];
  }

  forEachFile(visit: (relPath: string, tuple: number) => void): void {
    this.paths.forEach((_head, path) => {
      visit(path, this.tupleOf(path));
    });
  }

  *files(): Generator<readonly [string, number]> {
    for (const [path] of this.paths) yield [path, this.tupleOf(path)];
  }
}
