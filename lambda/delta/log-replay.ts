/**
 * Applies file actions to a TableState, reconciling by (path, deletion-vector unique id) as
 * PROTOCOL.md "Action Reconciliation" says. Each log file (commit or compaction) is applied as
 * one batch: metaData/protocol first, then removes, then adds whose key the same batch did not
 * also remove. For a valid commit the order inside it does not matter; for a log compaction file
 * that was not fully reconciled (both add and remove of one key) the remove wins, which matches
 * replaying the commits it replaces.
 */
import { runInSlices, WorkSlices, yieldToEventLoop } from '../core/event-loop';
import { fnv1a, ShardedMap } from '../core/sharded-map';
import { DeltaLogError } from './delta-log-error';
import { type FileAction, FileActionList } from './file-action-list';
import { LayeredMap } from './layered-map';
import { LOG_DIR } from './log-path';
import { PartitionTuples } from './partition-tuples';
import { PathIndex } from './path-index';
import { MULTI_TUPLE, NO_TUPLE } from './snapshot-view';
import { partitionColumnsOf, sameColumns, type TableMetadata, type TableProtocol } from './table-metadata';
import {
  type DeletionVectorDescriptor,
  dvFile,
  dvUniqueId,
  fileKey,
  type ResolvedPath,
  type TableRoot,
} from './table-root';
import type { TableState } from './table-state';

type PartitionValues = Record<string, string | null | undefined>;

const utf8 = new TextDecoder();

export type { FileAction };

/** The actions of one log file that matter for the file set. */
export interface ActionBatch {
  adds: FileActionList;
  removes: FileActionList;
  cdcs: FileActionList;
  metadata?: TableMetadata;
  protocol?: TableProtocol;
}

export function emptyBatch(): ActionBatch {
  return { adds: new FileActionList(), removes: new FileActionList(), cdcs: new FileActionList() };
}

/**
 * Each line of a newline-delimited log file's bytes: its text, its number (from 1) and the bytes it
 * took. The one reader of a log file's lines: a big file is never made one string (a line is
 * decoded on its own; a newline byte is never inside a UTF-8 sequence).
 */
export function* logLines(bytes: Uint8Array): Generator<[text: string, lineNo: number, taken: number]> {
  // As decoding the whole file would: a byte order mark is dropped at its start only.
  const first = new TextDecoder();
  const rest = new TextDecoder('utf-8', { ignoreBOM: true });
  let lineNo = 0;
  for (let start = 0; start <= bytes.byteLength; ) {
    let end = bytes.indexOf(10, start);
    if (end < 0) end = bytes.byteLength;
    const line = (start === 0 ? first : rest).decode(bytes.subarray(start, end));
    const taken = end + 1 - start;
    start = end + 1;
    yield [line, ++lineNo, taken];
  }
}

/** Each non-blank line of a log file, parsed, with where it came from and the bytes it took. */
export function* actionLines(
  bytes: Uint8Array,
  where: string,
): Generator<[action: Record<string, unknown>, at: string, taken: number]> {
  for (const [line, lineNo, taken] of logLines(bytes)) {
    const a = parseActionLine(line, where, lineNo);
    if (a) yield [a, `${where} line ${lineNo}`, taken];
  }
}

/** Bytes of a log file parsed between two yields to the event loop. */
export const PARSE_SLICE_BYTES = 256 * 1024;
/** The first slice of a file, smaller while the code that reads its actions may still be cold. */
const FIRST_PARSE_SLICE_BYTES = 16 * 1024;

/**
 * Visits each action of a log file (actionLines), letting other requests run between slices of
 * PARSE_SLICE_BYTES: one file may be tens of MB (an OPTIMIZE or a big append with column stats,
 * a JSON checkpoint), and is never parsed in one block.
 */
export async function forEachAction(
  bytes: Uint8Array,
  where: string,
  visit: (action: Record<string, unknown>, at: string) => void | Promise<void>,
): Promise<void> {
  const slices = new WorkSlices(PARSE_SLICE_BYTES, FIRST_PARSE_SLICE_BYTES);
  for (const [a, at, taken] of actionLines(bytes, where)) {
    const pending = visit(a, at);
    if (pending) await pending;
    if (slices.spend(taken)) await yieldToEventLoop();
  }
}

/** One line as an action, or undefined for a blank line. */
export function parseActionLine(
  line: string,
  where: string,
  lineNo: number,
): Record<string, unknown> | undefined {
  if (line.trim() === '') return undefined;
  let a: unknown;
  try {
    a = JSON.parse(line);
  } catch (e) {
    throw new DeltaLogError('Malformed', `${where} line ${lineNo} is not JSON`, { cause: e });
  }
  // Every line is one action: an object (null, an array or a number is a broken log).
  if (a === null || typeof a !== 'object' || Array.isArray(a))
    throw new DeltaLogError('Malformed', `${where} line ${lineNo} is not a JSON object`);
  return a as Record<string, unknown>;
}

/**
 * File actions of a batch applied between two yields (applyBatchInSlices): ~1-2 ms once the code
 * is compiled. The first slices of a batch are smaller: on a process's first big load, the first
 * few hundred actions run before the JIT has compiled the path index's hashing and lookups, at
 * ~10x the cost.
 */
const APPLY_SLICE = 512;
const FIRST_APPLY_SLICE = 64;

/** The actions of a commit or compaction file's bytes that matter for the file set, parsed in slices. */
export async function parseActionBytesInSlices(bytes: Uint8Array, where: string): Promise<ActionBatch> {
  const batch = emptyBatch();
  await forEachAction(bytes, where, (a, at) => addActionToBatch(batch, a, at));
  return batch;
}

export function addActionToBatch(batch: ActionBatch, a: Record<string, unknown>, where: string): void {
  if (a.add) batch.adds.push(fileAction(a.add, where));
  else if (a.remove) batch.removes.push(fileAction(a.remove, where));
  else if (a.cdc) batch.cdcs.push(fileAction(a.cdc, where));
  else if (a.metaData) batch.metadata = metadataOf(a.metaData, where);
  else if (a.protocol) batch.protocol = protocolOf(a.protocol, where);
}

function fileAction(x: unknown, where: string): FileAction {
  const o = x as FileAction;
  if (typeof o !== 'object' || typeof o.path !== 'string' || o.path === '') {
    throw new DeltaLogError('Malformed', `${where}: file action without a path`);
  }
  return o;
}

export function metadataOf(x: unknown, where: string): TableMetadata {
  const m = x as Partial<TableMetadata> & { partitionColumns?: unknown };
  if (typeof m !== 'object' || m === null) throw new DeltaLogError('Malformed', `${where}: bad metaData`);
  const pc = Array.isArray(m.partitionColumns) ? (m.partitionColumns as unknown[]) : [];
  return {
    ...(typeof m.id === 'string' ? { id: m.id } : {}),
    schemaString: typeof m.schemaString === 'string' ? m.schemaString : '{"type":"struct","fields":[]}',
    partitionColumns: pc.filter((c): c is string => typeof c === 'string'),
    configuration: (m.configuration ?? {}) as Record<string, string>,
  };
}

export function protocolOf(x: unknown, where: string): TableProtocol {
  const p = x as TableProtocol;
  if (typeof p !== 'object' || p === null || typeof p.minReaderVersion !== 'number') {
    throw new DeltaLogError('Malformed', `${where}: protocol without minReaderVersion`);
  }
  return p;
}

/** Reconciles add/remove/cdc actions into `s` (mutable). `root` resolves paths. */
export class LogReplay {
  private readonly values: (string | null)[];
  private readonly columnIndex = new Map<string, number>();
  /**
   * While a checkpoint's adds are read (beginCheckpointAdds): the keys of files it adds twice with
   * different partition values (or once refused for them). A checkpoint names each file once;
   * one that does not has no single reading (kernel keeps every row of a checkpoint, Spark the
   * last), so the file is refused, as for a commit that adds it twice (AddedTuples).
   */
  private checkpointRefused?: Set<string>;

  constructor(
    readonly s: TableState,
    readonly root: TableRoot,
  ) {
    this.values = [];
    this.indexColumns();
  }

  private indexColumns(): void {
    this.columnIndex.clear();
    this.s.columns.forEach((c, i) => {
      this.columnIndex.set(c.physical, i);
    });
    this.values.length = this.s.columns.length;
  }

  /** Physical column index of a partitionValues key, or -1 (keys of other columns are ignored). */
  columnOf(key: string): number {
    return this.columnIndex.get(key) ?? -1;
  }

  setMetadata(meta: TableMetadata): void {
    const cols = partitionColumnsOf(meta);
    const changed = !sameColumns(cols, this.s.columns);
    this.s.metadata = meta;
    this.s.columns = cols;
    if (changed) {
      // A new partitioning: tuples of files that survive it would be meaningless, so they are
      // dropped (denied). Spark removes every file in the same commit anyway.
      this.s.tuples = new PartitionTuples(cols.length);
      this.dropAll();
      this.indexColumns();
    }
  }

  private dropAll(): void {
    const s = this.s;
    const drop = <V>(m: { forEach(v: (x: V, k: string) => void): void; delete(k: string): boolean }) => {
      const keys: string[] = [];
      m.forEach((_v, k) => {
        keys.push(k);
      });
      for (const k of keys) m.delete(k);
    };
    drop(s.data);
    drop(s.external);
    drop(s.dvs);
    drop(s.dvFiles);
    drop(s.cdc);
    s.pathChars = 0;
  }

  /**
   * The tuple of a file's partitionValues, or NO_TUPLE when a partition column is missing from
   * them (the protocol requires every column; null is written as null or "", so such a file is
   * refused rather than taken for the null partition) or when they name a column the table is not
   * partitioned by (written under another partitioning, e.g. before an overwrite re-partitioned
   * the table to fewer columns: the history refuses such a map, and so must every view).
   */
  tupleOf(pv: PartitionValues | null | undefined): number {
    const v = this.values;
    if (readPartitionMap(pv, this.columnIndex, v) < v.length) return NO_TUPLE;
    return this.s.tuples.intern(v);
  }

  /** Partition values given as a scratch array aligned with the columns (checkpoint path). */
  tupleOfValues(values: readonly (string | null)[]): number {
    return this.s.tuples.intern(values);
  }

  applyBatch(b: ActionBatch): void {
    for (const _ of this.batchSteps(b));
  }

  /** applyBatch, letting other requests run between slices of a big commit's actions. */
  async applyBatchInSlices(b: ActionBatch): Promise<void> {
    // A refresh applies its commits to a fork of the cached snapshot's maps (layered-map.ts): a
    // batch as big as a fold (an OPTIMIZE, a bulk load) goes into a folded copy, made in slices,
    // rather than onto the fork's top, which would grow in one block at each doubling.
    const data = this.s.data;
    if (data instanceof LayeredMap && data.foldsWith(b.adds.length + b.removes.length))
      this.s.data = await data.mergedInSlices(b.adds.length);
    for (const _ of this.batchSteps(b)) await yieldToEventLoop();
  }

  /** Applies a batch, pausing after every slice of its actions (up to APPLY_SLICE). */
  private *batchSteps(b: ActionBatch): Generator<void> {
    const slices = new WorkSlices(APPLY_SLICE, FIRST_APPLY_SLICE);
    if (b.protocol) this.s.protocol = b.protocol;
    if (b.metadata) this.setMetadata(b.metadata);
    // Keyed sets as big as the batch (an OPTIMIZE removes and adds hundreds of thousands of
    // files): sharded, so that none grows in one block.
    let removed: ShardedMap<string, true> | undefined;
    if (b.removes.length) {
      removed = new ShardedMap();
      for (let i = 0; i < b.removes.length; i++) {
        const r = b.removes.at(i);
        const id = r.deletionVector ? dvUniqueId(r.deletionVector) : '';
        removed.set(`${id}\u0000${r.path}`, true);
        this.remove(r.path, id);
        if (slices.spend(1)) yield;
      }
    }
    // Room for the adds, made a slice at a time: the index never grows in one block under them.
    if (b.adds.length > 0 && this.s.data instanceof PathIndex) yield* this.s.data.reserveSteps(b.adds.length);
    // One log file adding a file twice with different partition values has no single reading
    // (kernel keeps the first add of a path, Spark the last): the file is refused.
    const tuples =
      b.adds.length > 1
        ? new AddedTuples(b.adds.length, (i) => fileKey(this.root.resolve(b.adds.at(i).path)))
        : undefined;
    for (let i = 0; i < b.adds.length; i++) {
      if (slices.spend(1)) yield;
      const a = b.adds.at(i);
      const dv = a.deletionVector ?? null;
      if (removed?.has(`${dv ? dvUniqueId(dv) : ''}\u0000${a.path}`)) continue;
      let tuple = this.tupleOf(a.partitionValues);
      const r = this.root.resolve(a.path);
      if (tuples) {
        const was = tuples.swap(fileKey(r), i, tuple);
        if (was !== undefined && was !== tuple) {
          tuple = NO_TUPLE;
          tuples.swap(fileKey(r), i, tuple);
        }
      }
      this.addResolved(r, tuple, dv);
    }
    for (let i = 0; i < b.cdcs.length; i++) {
      if (slices.spend(1)) yield;
      const c = b.cdcs.at(i);
      const r = this.root.resolve(c.path);
      // Change data lives under _change_data/: a cdc action naming any other file (a data file
      // of another partition, say) must not make it readable.
      if (r.relPath === undefined || !r.relPath.startsWith(CHANGE_DATA_DIR) || this.s.cdc.has(r.relPath))
        continue;
      const tuple = this.tupleOf(c.partitionValues);
      if (tuple < 0) continue;
      this.s.cdc.set(r.relPath, tuple);
      this.s.pathChars += r.relPath.length;
    }
  }

  /**
   * An add: replaces whatever logical file had the same path (a new DV for the same data file).
   * An add refused for its partition values (tuple NO_TUPLE) leaves no file behind.
   */
  add(logPath: string, tuple: number, dv: DeletionVectorDescriptor | null): void {
    this.addResolved(this.root.resolve(logPath), tuple, dv);
  }

  /** Reading a checkpoint's adds (into an empty state) starts: see checkpointRefused. */
  beginCheckpointAdds(): void {
    this.checkpointRefused = new Set();
  }

  endCheckpointAdds(): void {
    this.checkpointRefused = undefined;
  }

  private addResolved(r: ResolvedPath, tuple: number, dv: DeletionVectorDescriptor | null): void {
    const s = this.s;
    const key = fileKey(r);
    const files = r.relPath !== undefined ? s.data : s.external;
    const name = r.relPath ?? r.external!;
    const refused = this.checkpointRefused;
    if (refused !== undefined) {
      if (refused.has(key)) return;
      const was = files.get(name);
      if (tuple < 0 || (was !== undefined && was !== tuple)) {
        refused.add(key);
        tuple = NO_TUPLE;
      }
    }
    if (tuple < 0) {
      if (files.get(name) !== undefined) this.drop(files, name, key);
      // Its vector file holds the vector of a file of no known partition: no partition grant covers it.
      const f = dv ? dvFile(this.root, dv) : undefined;
      if (f?.relPath !== undefined && isDvFileName(f.relPath)) this.attachDvFile(f.relPath, NO_TUPLE);
      return;
    }
    if (files.get(name) !== undefined) {
      // Files reconcile by (path, vector id): an add with another vector does not remove the old
      // logical file, so its vector file keeps that owner (it holds its vector).
      if ((s.dvs.get(key)?.id ?? '') === (dv ? dvUniqueId(dv) : '')) this.detachDv(key);
      else s.dvs.delete(key);
    } else if (files !== s.data) s.pathChars += name.length;
    files.set(name, tuple);
    if (dv) {
      const f = dvFile(this.root, dv);
      // Only a deletion-vector file can be one: a DV naming a data file (of another partition,
      // say, removed or not) must not make that file readable.
      const file = f?.relPath !== undefined && isDvFileName(f.relPath) ? f.relPath : undefined;
      const ref = file !== undefined ? { id: dvUniqueId(dv), file } : { id: dvUniqueId(dv) };
      s.dvs.set(key, ref);
      if (ref.file !== undefined) this.attachDvFile(ref.file, tuple);
    }
  }

  /** Pre-sizes the data-file index for a bulk load of about `entries` adds, a slice at a time. */
  async reserve(entries: number): Promise<void> {
    if (this.s.data instanceof PathIndex) await runInSlices(this.s.data.reserveSteps(entries));
  }

  /**
   * A checkpoint add whose path is still percent-encoded UTF-8 bytes: goes straight into the
   * compact path index when it is a plain relative path without a DV, else takes add().
   */
  addEncoded(
    bytes: Uint8Array,
    start: number,
    end: number,
    tuple: number,
    dv: DeletionVectorDescriptor | null,
  ): void {
    const data = this.s.data;
    // Not over an entry of another partition, nor once a file was refused (see checkpointRefused).
    const refused = this.checkpointRefused;
    if (
      dv === null &&
      tuple >= 0 &&
      data instanceof PathIndex &&
      (refused === undefined || refused.size === 0) &&
      data.addEncoded(bytes, start, end, tuple, refused === undefined)
    )
      return;
    this.add(utf8.decode(bytes.subarray(start, end)), tuple, dv);
  }

  /** A remove: deletes the active file only when its DV id matches (else it names another logical file). */
  remove(logPath: string, dvId: string): void {
    const s = this.s;
    const r = this.root.resolve(logPath);
    const key = fileKey(r);
    const files = r.relPath !== undefined ? s.data : s.external;
    const name = r.relPath ?? r.external!;
    if (files.get(name) === undefined) return;
    if ((s.dvs.get(key)?.id ?? '') !== dvId) return;
    this.drop(files, name, key);
  }

  private drop(files: TableState['data'], name: string, key: string): void {
    this.detachDv(key);
    files.delete(name);
    if (files !== this.s.data) this.s.pathChars -= name.length;
  }

  private detachDv(key: string): void {
    const s = this.s;
    const ref = s.dvs.get(key);
    if (!ref) return;
    s.dvs.delete(key);
    if (ref.file === undefined) return;
    const cur = s.dvFiles.get(ref.file);
    if (!cur) return;
    const tuple = s.data.get(key) ?? s.external.get(key.slice(1)) ?? -1;
    const owners = [...cur.owners];
    const i = owners.indexOf(tuple);
    owners.splice(Math.max(i, 0), 1);
    if (owners.length === 0) {
      s.dvFiles.delete(ref.file);
      s.pathChars -= ref.file.length;
    } else s.dvFiles.set(ref.file, { tuple: commonTuple(owners), owners });
  }

  private attachDvFile(file: string, tuple: number): void {
    const s = this.s;
    const cur = s.dvFiles.get(file);
    if (!cur) {
      s.dvFiles.set(file, { tuple, owners: [tuple] });
      s.pathChars += file.length;
      return;
    }
    const owners = [...cur.owners, tuple];
    s.dvFiles.set(file, { tuple: cur.tuple === tuple ? tuple : MULTI_TUPLE, owners });
  }
}

function commonTuple(owners: readonly number[]): number {
  const t = owners[0]!;
  return owners.every((o) => o === t) ? t : MULTI_TUPLE;
}

/**
 * The tuple each file key of a batch's adds was last given. Keyed by the key's hash, a sharded Map
 * of numbers pointing at the add that first had it (no path string kept alive for the GC to copy,
 * no Map growing in one block); a key sharing its hash with another add's goes to a Map of its own.
 */
class AddedTuples {
  private readonly firstAdd = new ShardedMap<number, number>();
  /** By add: the tuple last given to the key of the add that first had its hash. */
  private readonly tuples: Int32Array;
  private collided?: Map<string, number>;

  constructor(
    adds: number,
    /** The file key of add i. */
    private readonly keyOf: (i: number) => string,
  ) {
    this.tuples = new Int32Array(adds);
  }

  /** Records `tuple` for `key` (the key of add i) and returns the one it had before, if any. */
  swap(key: string, i: number, tuple: number): number | undefined {
    const h = fnv1a(key);
    const first = this.firstAdd.get(h);
    if (first === undefined) {
      this.firstAdd.set(h, i);
      this.tuples[i] = tuple;
      return undefined;
    }
    if (first === i || this.keyOf(first) === key) {
      const was = this.tuples[first];
      this.tuples[first] = tuple;
      return was;
    }
    this.collided ??= new Map();
    const was = this.collided.get(key);
    this.collided.set(key, tuple);
    return was;
  }
}

/** Where change data files live (PROTOCOL.md "Change Data Files"). */
export const CHANGE_DATA_DIR = '_change_data/';

/**
 * Deletion-vector files are `deletion_vector_<uuid>.bin` (a `u` descriptor spells exactly that; a
 * `p` descriptor's absolute path names such a file too). Nothing else is taken for one.
 */
export function isDvFileName(relPath: string): boolean {
  return relPath.endsWith('.bin') && !relPath.startsWith(LOG_DIR);
}

/**
 * Reads a partitionValues map into `out` (one slot per partition column, by `columnIndex`): the
 * number of columns it names, or -1 when the file is refused for it: a value that is no serialized
 * one, or, in a partitioned table, a key of no partition column. Anything but a JSON object names
 * none. The one reading of a JSON map for the snapshot, the history and the filtered log, which
 * must agree on every file.
 */
export function readPartitionMap(
  pv: unknown,
  columnIndex: ReadonlyMap<string, number>,
  out: (string | null)[],
): number {
  out.fill(null);
  if (!isValueMap(pv)) return 0;
  let named = 0;
  for (const key in pv) {
    const i = columnIndex.get(key);
    if (i === undefined) {
      if (out.length > 0) return -1; // a column the table is not partitioned by
      continue;
    }
    const text = partitionText(pv[key]);
    if (text === undefined) return -1;
    out[i] = text;
    named++;
  }
  return named;
}

/** Is `pv` a JSON object (the only form of a partitionValues map; a string or array is not one)? */
export function isValueMap(pv: unknown): pv is Record<string, unknown> {
  return typeof pv === 'object' && pv !== null && !Array.isArray(pv);
}

/**
 * A partitionValues entry as a tuple holds it: the text; null for the null partition (JSON null or
 * ""); undefined when it is no serialized value (a number, boolean, array or object). Readers refuse
 * such an action or read it differently (Jackson keeps a number's own text, "1.0"; String() makes
 * it "1", and ["EU"] "EU"), so the file is refused like one that lacks the column.
 */
export function partitionText(v: unknown): string | null | undefined {
  if (v === null || v === '') return null;
  return typeof v === 'string' ? v : undefined;
}
