/**
 * The authorization decision for one (caller, table, snapshot): which partition tuples the caller's
 * partition maps allow, computed once as a bitset over the snapshot's tuples, then answered per file
 * in O(1) (one tupleOf lookup and one byte read, no allocation).
 *
 * A map allows a tuple when every key of the map is a partition column (logical name, in any case)
 * and the column's value equals the map's value, compared as the column's Delta type
 * (partition-value.ts).
 * `{}` allows every tuple; a key that is not a partition column, or a value that does not parse for
 * the column's type, allows nothing. Files outside the snapshot (NO_TUPLE) are never readable.
 */
import { runInSlices, runToEnd, WorkSlices, yieldToEventLoop } from '../core/event-loop';
import { type FolderIndex, folderIndexOf } from '../delta/folder-index';
import { MULTI_TUPLE, type PartitionColumn, type SnapshotView } from '../delta/snapshot-view';
import type { PartitionMap } from './grant';
import { grantColumnIndex } from './grant-columns';
import {
  type CanonicalValue,
  canonicalize,
  grantCanonicals,
  grantKeysFor,
  normalizerFor,
} from './partition-value';

/** Tagged keys: "v<text>" for a value, "n" for the null partition, "b" for a file value that does not parse. */
const NULL_KEY = 'n';
const BAD_KEY = 'b';

function keyPart(v: CanonicalValue): string {
  return v === null ? NULL_KEY : `v${v}`;
}

/** Maps grouped by the set of columns they constrain: one hash lookup per group per tuple. */
interface MapGroup {
  columns: number[];
  keys: Set<string>;
}

function compileMaps(columns: readonly PartitionColumn[], maps: readonly PartitionMap[]): MapGroup[] | 'all' {
  const grantKeys = columns.map((c) => grantKeysFor(c.type));
  const groups = new Map<string, MapGroup>();
  for (const map of maps) {
    const entries = Object.entries(map);
    if (entries.length === 0) return 'all';
    // Per constrained column, the keys its value covers (usually one).
    const constrained: [number, string[]][] = [];
    let usable = true;
    for (const [name, value] of entries) {
      const col = grantColumnIndex(columns, name);
      const canonicals = col < 0 ? undefined : grantCanonicals(grantKeys[col]!, value);
      if (canonicals === undefined) {
        usable = false;
        break;
      }
      constrained.push([col, canonicals.map(keyPart)]);
    }
    if (!usable) continue;
    constrained.sort((a, b) => a[0] - b[0]);
    const signature = constrained.map(([c]) => c).join(',');
    let group = groups.get(signature);
    if (!group) {
      group = { columns: constrained.map(([c]) => c), keys: new Set() };
      groups.set(signature, group);
    }
    let rows: string[][] = [[]];
    for (const [, options] of constrained) rows = rows.flatMap((r) => options.map((o) => [...r, o]));
    for (const r of rows) group.keys.add(JSON.stringify(r));
  }
  return [...groups.values()];
}

/** The decision over every tuple of a view: bits[t] === 1 when tuple t is readable. */
export interface TupleDecision {
  bits: Uint8Array;
  count: number;
  /** A map is `{}`: every partition, also one the view does not know, is granted. */
  whole: boolean;
}

/** Whether maps allow a tuple of `columns`' raw values; `whole`: a map is `{}`. */
export type TupleRule =
  | { whole: true }
  | { whole: false; none: boolean; allows(raw: readonly (string | null)[]): boolean };

/**
 * The maps compiled once for `columns`: a tuple then costs one lookup per group of maps, not work
 * per map (hundreds of maps are classified against every tuple of a log).
 */
export function tupleRule(columns: readonly PartitionColumn[], maps: readonly PartitionMap[]): TupleRule {
  const compiled = compileMaps(columns, maps);
  if (compiled === 'all') return { whole: true };
  const normalizers = columns.map((c) => normalizerFor(c.type));
  return {
    whole: false,
    none: compiled.length === 0,
    allows(raw) {
      if (compiled.length === 0) return false;
      const canonical = raw.map((v, i) => {
        const c = canonicalize(normalizers[i]!, v);
        return c === undefined ? BAD_KEY : keyPart(c);
      });
      for (const group of compiled) {
        // A file value that does not parse for its type matches no constraint on that column.
        if (group.columns.some((c) => canonical[c] === BAD_KEY)) continue;
        if (group.keys.has(JSON.stringify(group.columns.map((c) => canonical[c])))) return true;
      }
      return false;
    },
  };
}

/** Partition values canonicalized between two pauses (about a millisecond of work). */
const SLICE_VALUES = 4096;

/**
 * Decides tuple after tuple, and yields (nothing) when a slice of the work is done: the caller
 * either runs on (one pass) or lets the event loop run first. Tuples are append-only and a view's
 * tupleCount is fixed when it is made, so tuple t means the same values across pauses.
 */
function* decide(snapshot: SnapshotView, maps: readonly PartitionMap[]): Generator<void, TupleDecision> {
  const n = snapshot.tupleCount;
  const bits = new Uint8Array(n);
  const rule = tupleRule(snapshot.partitionColumns, maps);
  if (rule.whole) {
    bits.fill(1);
    return { bits, count: n, whole: true };
  }
  let count = 0;
  if (!rule.none) {
    const slices = new WorkSlices(SLICE_VALUES);
    for (let t = 0; t < n; t++) {
      const raw = snapshot.tupleValues(t);
      if (slices.spend(raw.length + 1)) yield;
      if (rule.allows(raw)) {
        bits[t] = 1;
        count++;
      }
    }
  }
  return { bits, count, whole: false };
}

export class AllowedSet {
  /** bits[t] === 1 when tuple t is readable. */
  private readonly bits: Uint8Array;
  readonly allowedTupleCount: number;
  /** A map is `{}`: every partition, also one the snapshot does not know, is granted. */
  readonly grantsWholeTable: boolean;
  private folders?: Promise<ReadableFolders>;
  /** Readable folders under a deletion-vector filter, by the filter's key. */
  private readonly filteredFolders = new WeakMap<object, Promise<ReadableFolders>>();
  private folderBytes = 0;
  /** Told of the bytes this set grows by once built (its readable folders), for a cache's budget. */
  onGrow?: (bytes: number) => void;

  /**
   * Without `decision`, decided here in one pass: for views of a few tuples (one file's grant).
   * A snapshot's set is built with `AllowedSet.build`, which lets other requests run.
   */
  constructor(
    readonly snapshot: SnapshotView,
    readonly maps: readonly PartitionMap[],
    decision: TupleDecision = runToEnd(decide(snapshot, maps)),
  ) {
    this.bits = decision.bits;
    this.allowedTupleCount = decision.count;
    this.grantsWholeTable = decision.whole;
  }

  /**
   * Decided a slice at a time, other requests running in between: an over-partitioned table's
   * snapshot holds hundreds of thousands of tuples (about 45 ms of work per 100,000).
   */
  static async build(snapshot: SnapshotView, maps: readonly PartitionMap[]): Promise<AllowedSet> {
    return new AllowedSet(snapshot, maps, await runInSlices(decide(snapshot, maps)));
  }

  get allowsAll(): boolean {
    return this.allowedTupleCount === this.snapshot.tupleCount;
  }

  get allowsNone(): boolean {
    return this.allowedTupleCount === 0;
  }

  isTupleAllowed(t: number): boolean {
    return this.bits[t] === 1;
  }

  /**
   * Is this path (relative to the table root, decoded) an authorizable file the caller may read?
   * A file of several tuples (a deletion-vector file shared by data files of several partitions)
   * is readable only when all of them are: it holds the vectors of every one of those files.
   */
  isReadable(relPath: string): boolean {
    const t = this.snapshot.tupleOf(relPath);
    if (t >= 0) return this.bits[t] === 1;
    if (t !== MULTI_TUPLE) return false;
    const owners = this.snapshot.tuplesOf(relPath);
    return owners.length > 0 && owners.every((u) => this.bits[u] === 1);
  }

  /**
   * Folder prefixes ("a=1/", "a=1/b=2/") that contain at least one readable file, for filtered
   * listings: one pass over the snapshot's folder index (built once per snapshot, shared), a
   * slice at a time. With `vectors`, a deletion-vector file counts only when the listing shows it
   * (built once per key).
   */
  readableFolders(vectors?: VectorFilter): Promise<ReadableFolders> {
    const cached = vectors ? this.filteredFolders.get(vectors.key) : this.folders;
    if (cached) return cached;
    const made = folderIndexOf(this.snapshot).then(async (index) => {
      const allowed = this.allowsNone ? undefined : (t: number) => this.bits[t] === 1;
      const folders = await ReadableFolders.build(index, allowed, vectors?.shown);
      this.folderBytes += folders.bytes;
      this.onGrow?.(folders.bytes);
      return folders;
    });
    if (vectors) this.filteredFolders.set(vectors.key, made);
    else this.folders = made;
    // A failure is not kept: the next listing tries again.
    made.catch(() => {
      if (vectors) {
        if (this.filteredFolders.get(vectors.key) === made) this.filteredFolders.delete(vectors.key);
      } else if (this.folders === made) this.folders = undefined;
    });
    return made;
  }

  /** Approximate resident bytes of this decision structure (the bitset and readable folders). */
  get residentBytes(): number {
    return this.bits.byteLength + this.folderBytes + 64;
  }
}

/** Folders looked at between two pauses. */
const FOLDER_SLICE = 4096;

/** Which deletion-vector files a listing shows; `key` names the rule (one folder set per key). */
export interface VectorFilter {
  readonly key: object;
  shown(relPath: string): boolean;
}

/** One caller's readable folders over a snapshot's folder index: a bit per folder. */
export class ReadableFolders {
  private constructor(
    private readonly index: FolderIndex,
    private readonly bits: Uint32Array,
    readonly size: number,
  ) {}

  /** A slice of folders at a time: an over-partitioned table has a folder per tuple or more. */
  static async build(
    index: FolderIndex,
    allowed: ((tuple: number) => boolean) | undefined,
    vectorShown?: (relPath: string) => boolean,
  ): Promise<ReadableFolders> {
    const bits = new Uint32Array((index.count + 31) >>> 5);
    const marked = (f: number) => (bits[f >>> 5]! & (1 << (f & 31))) !== 0;
    let size = 0;
    if (allowed) {
      for (let i = 0; i < index.count; i++) {
        if (i % FOLDER_SLICE === FOLDER_SLICE - 1) await yieldToEventLoop();
        if (!index.holdsReadable(i, allowed, vectorShown)) continue;
        // Mark the folder and its ancestors, up to the first one already marked.
        for (let f = i; f >= 0 && !marked(f); f = index.parents[f]!) {
          bits[f >>> 5]! |= 1 << (f & 31);
          size++;
        }
      }
    }
    return new ReadableFolders(index, bits, size);
  }

  has(folder: string): boolean {
    const id = this.index.idOf(folder);
    return id >= 0 && this.bit(id);
  }

  get bytes(): number {
    return this.bits.byteLength + 32;
  }

  *[Symbol.iterator](): Generator<string> {
    const names = this.index.names();
    for (let i = 0; i < names.length; i++) if (this.bit(i)) yield names[i]!;
  }

  private bit(i: number): boolean {
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }
}
