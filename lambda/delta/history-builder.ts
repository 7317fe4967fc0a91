/**
 * Turns file actions of the retained log into History records, in log order:
 * - `remove` (a commit's, or a checkpoint tombstone): the data file and its deletion-vector file,
 *   with the partition tuple of the remove's own `partitionValues` or, when it carries none, or
 *   they lack a partition column or name one the table is not partitioned by, of
 *   the `add` that introduced the path (the loader finds it in a second pass over the retained
 *   commits, else in the oldest checkpoint's adds; never found → the file stays refused);
 * - `cdc`: the change-data file, for as long as its commit is retained;
 * - `add`: ignored, except in that second pass for the paths it looks for.
 * Partition values are read with the partitioning in effect; a metaData action that changes the
 * partition columns or their types makes everything before it meaningless under the new grants'
 * columns, so the builder starts over (a full build) or asks for one (an incremental update), and
 * the removes of that commit (files of the old partitioning) stay unplaced.
 */

import type { CheckpointFileAction, PartitionValues } from './checkpoint-file-actions';
import { CHANGE_DATA, RecordStore } from './history';
import { CHANGE_DATA_DIR, isDvFileName, isValueMap, readPartitionMap } from './log-replay';
import { PartitionTuples } from './partition-tuples';
import { PathIndex } from './path-index';
import { conflictingAdds } from './path-partitions';
import type { PartitionColumn } from './snapshot-view';
import { sameColumns } from './table-metadata';
import { dvFile, type TableRoot } from './table-root';
import type { MapLike } from './table-state';

/** A remove whose partition values are not known yet. */
export interface PendingRemove {
  deletedAt: number;
  version: number;
  dvFile?: string;
}

/** The `added` mark of a file its log file added with conflicting values: it places nothing. */
const CONFLICTING = -1;

export class HistoryBuilder {
  files: MapLike<string, number>;
  records: RecordStore;
  tuples: PartitionTuples;
  columns: readonly PartitionColumn[];
  /**
   * Removes without usable partition values whose add was not seen: relative path → each such
   * remove, in log order (a file removed twice had a deletion-vector file each time, and each
   * still holds its vector).
   */
  readonly unresolved = new Map<string, PendingRemove[]>();
  /** Set when the partitioning changed since the builder started (incremental: needs a full build). */
  repartitioned = false;
  /** The version from which the current partitioning holds (a change drops everything before). */
  epoch = -1;
  private readonly columnIndex = new Map<string, number>();
  private values: (string | null)[] = [];
  /** Second pass only: the latest add of each unresolved path seen so far → its tuple. */
  private added?: Map<string, number>;
  /** Second pass only: unresolved paths by the version of their remove. */
  private pendingAt?: Map<number, string[]>;

  constructor(
    readonly root: TableRoot,
    columns: readonly PartitionColumn[],
    /** Continue from an existing history's structures (incremental update), else start empty. */
    from?: { files: MapLike<string, number>; records: RecordStore; tuples: PartitionTuples },
  ) {
    this.columns = columns;
    this.files = from?.files ?? new PathIndex();
    this.records = from?.records ?? new RecordStore();
    this.tuples = from?.tuples ?? new PartitionTuples(columns.length);
    this.indexColumns();
  }

  /** The partitioning in effect from `version` on; a change discards what was built. */
  setColumns(cols: readonly PartitionColumn[], version = -1): void {
    if (sameColumns(cols, this.columns)) {
      this.columns = cols;
      return;
    }
    this.repartitioned = true;
    this.epoch = version;
    this.reset(cols);
  }

  /** Discards everything built so far. */
  reset(cols: readonly PartitionColumn[]): void {
    this.columns = cols;
    this.files = new PathIndex();
    this.records = new RecordStore();
    this.tuples = new PartitionTuples(cols.length);
    this.unresolved.clear();
    this.indexColumns();
  }

  private indexColumns(): void {
    this.columnIndex.clear();
    this.columns.forEach((c, i) => {
      this.columnIndex.set(c.physical, i);
    });
    this.values = new Array(this.columns.length).fill(null);
    this.added = undefined;
  }

  /**
   * The tuple of partition values under the current columns: undefined when there are none, when
   * they name a column the partitioning does not have (they belong to another partitioning), or
   * when they lack one. A remove that lacks one (Spark 3.3 leaves null-valued keys out of
   * `remove` actions) is placed by its add, as in the snapshot and the filtered log: taking the
   * missing key for null would let a remove put a file of another partition into the null one.
   * `missingIsNull` is for change data only, which has no add (Delta 2.1 left nulls out of `cdc`).
   */
  tupleOf(pv: PartitionValues | undefined, missingIsNull = false): number | undefined {
    if (this.columns.length === 0) return 0;
    if (!isValueMap(pv)) return undefined;
    const named = readPartitionMap(pv, this.columnIndex, this.values);
    if (named < 0 || (named < this.values.length && !missingIsNull)) return undefined;
    return this.tuples.intern(this.values);
  }

  /** Second pass: from here on, adds of the unresolved paths are remembered. */
  trackAdds(): void {
    this.added = new Map();
    this.pendingAt = new Map();
    for (const [rel, removes] of this.unresolved) {
      for (const p of removes) {
        const list = this.pendingAt.get(p.version) ?? [];
        if (list.at(-1) !== rel) list.push(rel);
        this.pendingAt.set(p.version, list);
      }
    }
  }

  /**
   * One log file's adds (second pass). A file it adds twice with different values (no single
   * reading: see sameValueMaps) places no remove, as the snapshot refuses it.
   */
  addAll(adds: readonly CheckpointFileAction[]): void {
    if (!this.added) return;
    const conflicts =
      adds.length > 1 && this.columns.length > 0
        ? conflictingAdds(adds, (p) => this.root.resolve(p).relPath ?? '')
        : undefined;
    for (const a of adds) {
      const rel = this.root.resolve(a.path).relPath;
      if (rel === undefined || !this.unresolved.has(rel)) continue;
      if (conflicts?.has(rel)) {
        this.added.set(rel, CONFLICTING);
        continue;
      }
      const t = this.tupleOf(a.partitionValues);
      if (t !== undefined) this.added.set(rel, t);
    }
  }

  /** Second pass, before commit `version`'s adds: resolves its pending removes from earlier adds. */
  resolveAt(version: number): void {
    for (const rel of this.pendingAt?.get(version) ?? []) {
      const t = this.added!.get(rel);
      if (t === undefined || t === CONFLICTING) continue;
      this.place(rel, t, (p) => p.version === version);
    }
  }

  removal(a: CheckpointFileAction, deletedAt: number, version: number): void {
    const rel = this.root.resolve(a.path).relPath;
    if (rel === undefined) return; // outside the table root: never authorizable
    // As in the snapshot's replay: only a deletion-vector file can be one. A vector naming a data
    // file (of another partition, say, removed or not) must not make that file readable.
    const named = a.deletionVector ? dvFile(this.root, a.deletionVector)?.relPath : undefined;
    const dv = named !== undefined && isDvFileName(named) ? named : undefined;
    // A file the commit that changes the partitioning removes was written under the old one: its
    // values may read differently under the new types ("01" is "1" once p is an int). Never placed.
    const t = version === this.epoch ? undefined : this.tupleOf(a.partitionValues);
    if (t === undefined) {
      // None written, or naming a column the table is not partitioned by: the add that
      // introduced the file decides (as in the filtered log; the add of a file written under
      // another partitioning is refused too).
      const pending = this.unresolved.get(rel) ?? [];
      pending.push({ deletedAt, version, ...(dv !== undefined ? { dvFile: dv } : {}) });
      this.unresolved.set(rel, pending);
      return;
    }
    this.record(rel, t, deletedAt, version);
    if (dv !== undefined) this.record(dv, t, deletedAt, version);
  }

  /** A pending remove whose add was found (the loader's checkpoint lookup). */
  resolve(rel: string, pv: PartitionValues | undefined): void {
    const t = this.tupleOf(pv);
    if (t !== undefined) this.place(rel, t, () => true);
  }

  /** Records the pending removes of `rel` that `which` selects (and their vectors) in tuple `t`. */
  private place(rel: string, t: number, which: (p: PendingRemove) => boolean): void {
    const pending = this.unresolved.get(rel);
    if (!pending) return;
    const left: PendingRemove[] = [];
    for (const p of pending) {
      if (!which(p)) {
        left.push(p);
        continue;
      }
      this.record(rel, t, p.deletedAt, p.version);
      if (p.dvFile !== undefined) this.record(p.dvFile, t, p.deletedAt, p.version);
    }
    if (left.length) this.unresolved.set(rel, left);
    else this.unresolved.delete(rel);
  }

  changeData(a: CheckpointFileAction, version: number): void {
    const rel = this.root.resolve(a.path).relPath;
    // As in the snapshot's replay: a cdc action naming a file outside _change_data/ (a data file
    // of another partition, say) must not make it readable.
    if (rel === undefined || !rel.startsWith(CHANGE_DATA_DIR)) return;
    const t = this.tupleOf(a.partitionValues, true);
    if (t !== undefined) this.record(rel, t, CHANGE_DATA, version);
  }

  /**
   * Forgets what can no longer be read: change data of commits before `oldest` (cleaned up) and
   * removes past their retention at `now`. A path goes only when every record of it is gone. A
   * deletion-vector file's owner is kept while its remove is retained, expired or not (the file
   * still holds its vector, another owner may keep the file: a full load knows that owner too).
   */
  prune(oldest: number, now: number, retentionMs: number): void {
    const s = this.records;
    const drop: string[] = [];
    this.files.forEach((head, path) => {
      const vector = isDvFileName(path);
      for (let r = head; r >= 0; r = s.next[r]!) {
        const d = s.deletedAt[r]!;
        if (d === CHANGE_DATA || vector ? s.version[r]! >= oldest : now < d + retentionMs) return;
        if (vector && now < d + retentionMs) return;
      }
      drop.push(path);
    });
    for (const p of drop) this.files.delete(p);
  }

  /** Adds a record unless the path already has one that covers it (same tuple, as long or longer). */
  private record(rel: string, tuple: number, deletedAt: number, version: number): void {
    const s = this.records;
    const head = this.files.get(rel) ?? -1;
    for (let r = head; r >= 0; r = s.next[r]!) {
      if (s.tuple[r] === tuple && s.deletedAt[r]! >= deletedAt) return;
    }
    this.files.set(rel, s.push(tuple, deletedAt, version, head));
  }
}
