/**
 * Reads the actions of a checkpoint of any form (classic or multi-part Parquet, UUID-named v2 in
 * Parquet or JSON, and its sidecars) for the filtered view, row group by row group. Adds are
 * classified on their partition values as they are decoded, and only the readable ones are built
 * into objects: the path and statistics bytes of the other rows are skipped over, never turned
 * into strings. metaData and protocol rows are handed on whole; removes (tombstones: only VACUUM
 * reads them, see filtered-checkpoint.ts), txn, domainMetadata, checkpointMetadata and anything
 * else are not read at all.
 */
import { type CheckpointFile, sidecarFile } from '../delta/checkpoint-reader';
import { DeltaLogError } from '../delta/delta-log-error';
import { type DeltaStorage, isNotFound } from '../delta/delta-storage';
import { forEachAction } from '../delta/log-replay';
import {
  type IoStats,
  type Leaf,
  leavesUnder,
  openParquet,
  type ParquetFile,
  RepeatedCursor,
  readLeaves,
  ScalarCursor,
  stringOrNull,
} from '../delta/parquet-leaves';
import { AddConflicts, type PartitionValues } from '../delta/path-partitions';
import type { TupleClassifier } from './file-grant';

type Obj = Record<string, unknown>;

/** One action read from a checkpoint; `add` rows arrive only when readable. */
export type ReadRow = { add: Obj } | { metaData: Obj } | { protocol: Obj };

/** One action of a checkpoint as written (CheckpointWriter). */
export type CheckpointRow = ReadRow | { remove: Obj };

/**
 * Takes the rows read, a slice at a time (at most ROW_SLICE rows a call, the event loop free
 * between calls): a sink's own pass over them is bounded by the slice, not by a row group.
 */
export type RowSink = (rows: ReadRow[]) => Promise<void>;

/**
 * `keyOf`: a file as the snapshot keys it (fileKey), by which a JSON part's adds of one file with
 * conflicting values are found (default: the path as written).
 */
export async function readCheckpointRows(
  storage: DeltaStorage,
  parts: readonly CheckpointFile[],
  classifier: TupleClassifier,
  sink: RowSink,
  io: IoStats,
  keyOf: (logPath: string) => string = (p) => p,
): Promise<void> {
  const sidecars: CheckpointFile[] = [];
  for (const part of parts) {
    if (part.format === 'json') await readJson(storage, part, classifier, sink, sidecars, keyOf);
    else
      await readParquet(
        storage,
        await openParquet(storage, part.path, part.size, io),
        classifier,
        sink,
        sidecars,
        io,
      );
  }
  for (const sc of sidecars) {
    try {
      const file = await openParquet(storage, sc.path, sc.size, io, sc.sizeFromLog);
      await readParquet(storage, file, classifier, sink, [], io);
    } catch (e) {
      // A sidecar the checkpoint names and the store lacks makes the checkpoint unreadable (for
      // every reader): not a file gone since the log was listed (sidecars are not in that listing).
      if (isNotFound(e)) throw new DeltaLogError('Unreadable', `sidecar ${sc.path} is missing`, { cause: e });
      throw e;
    }
  }
}

async function readJson(
  storage: DeltaStorage,
  part: CheckpointFile,
  classifier: TupleClassifier,
  sink: RowSink,
  sidecars: CheckpointFile[],
  keyOf: (logPath: string) => string,
): Promise<void> {
  const rows: ReadRow[] = [];
  // The snapshot applies a JSON part's adds as one batch and refuses a file it adds twice with
  // conflicting values (readers disagree on which add counts): so neither add is shown here.
  const conflicts = new AddConflicts(keyOf);
  await forEachAction(await storage.read(part.path), part.path, async (a) => {
    if (isObj(a.sidecar)) sidecars.push(await sidecarFile(storage, a.sidecar.path, a.sidecar.sizeInBytes));
    else if (isObj(a.add)) {
      if (typeof a.add.path === 'string') conflicts.add(a.add.path, a.add.partitionValues);
      if (classifier.readable(a.add.partitionValues as PartitionValues)) rows.push({ add: a.add });
    } else if (isObj(a.metaData)) rows.push({ metaData: a.metaData });
    else if (isObj(a.protocol)) rows.push({ protocol: a.protocol });
  });
  const conflicting = conflicts.conflicting;
  const kept =
    conflicting.size === 0
      ? rows
      : rows.filter(
          (r) => !('add' in r && typeof r.add.path === 'string' && conflicting.has(keyOf(r.add.path))),
        );
  for (let i = 0; i < kept.length; i += ROW_SLICE) {
    if (i > 0) await yieldToEventLoop();
    await sink(kept.slice(i, i + ROW_SLICE));
  }
}

const utf8 = new TextDecoder();

/** A string leaf, streamed page by page when possible: a value is decoded only when asked for. */
class StringCursor {
  private readonly scalar?: ScalarCursor;
  private current: string | null = null;
  constructor(
    private readonly leaf: Leaf,
    private readonly file: ParquetFile,
    private readonly column: string,
  ) {
    if (!leaf.pages) this.scalar = new ScalarCursor(leaf);
  }
  /** Moves to the next row; true when it holds a value. */
  next(): boolean {
    if (this.scalar) {
      this.current = stringOrNull(this.scalar.next(), this.file, this.column);
      return this.current !== null;
    }
    return this.leaf.pages!.next();
  }
  value(): string {
    if (this.scalar) return this.current!;
    const p = this.leaf.pages!;
    return utf8.decode(p.bytes.subarray(p.start, p.end));
  }
}

/** A map leaf pair, row by row, into reused arrays (no allocation for rows that are dropped). */
class MapCursor {
  private readonly cursor: RepeatedCursor;
  readonly keys: string[] = [];
  readonly values: (string | null)[] = [];
  size = 0;
  private readonly push = (k: unknown, v: unknown) => {
    this.keys[this.size] = stringOrNull(k, this.file, this.column) ?? '';
    this.values[this.size++] = v === undefined ? null : stringOrNull(v, this.file, this.column);
  };
  constructor(
    keys: Leaf,
    values: Leaf,
    private readonly file: ParquetFile,
    private readonly column: string,
  ) {
    this.cursor = new RepeatedCursor(keys, values);
  }
  next(): this {
    this.size = 0;
    this.cursor.next(this.push);
    return this;
  }
  toObject(): Record<string, string | null> {
    // No prototype: a "__proto__" key is an entry like any other (on {} it would set the prototype).
    const o: Record<string, string | null> = Object.create(null);
    for (let i = 0; i < this.size; i++) o[this.keys[i]!] = this.values[i]!;
    return o;
  }
}

class ListCursor {
  private readonly cursor: RepeatedCursor;
  private items: string[] = [];
  private readonly push = (x: unknown) => {
    this.items.push(stringOrNull(x, this.file, this.column) ?? '');
  };
  constructor(
    leaf: Leaf,
    private readonly file: ParquetFile,
    private readonly column: string,
  ) {
    this.cursor = new RepeatedCursor(leaf);
  }
  next(): string[] {
    this.items = [];
    this.cursor.next(this.push);
    return this.items;
  }
}

const DV_FIELDS = ['storageType', 'pathOrInlineDv', 'offset', 'sizeInBytes', 'cardinality', 'maxRowIndex'];

/** Leaf paths of one action struct: scalars by name, maps and lists by their (writer-chosen) leaf names. */
function layout(file: ParquetFile) {
  const t = file.tree;
  const mapOf = (path: string[]) => {
    const l = leavesUnder(t, path);
    return [l[0] ?? ['-'], l[1] ?? ['-']];
  };
  const listOf = (path: string[]) => [leavesUnder(t, path)[0] ?? ['-']];
  const paths: string[][] = [
    ['add', 'path'],
    ['add', 'stats'],
    ...mapOf(['add', 'partitionValues']),
    ['add', 'size'],
    ['add', 'modificationTime'],
    ['add', 'dataChange'],
    ...DV_FIELDS.map((f) => ['add', 'deletionVector', f]),
    ['metaData', 'id'],
    ['metaData', 'format', 'provider'],
    ['metaData', 'schemaString'],
    ...listOf(['metaData', 'partitionColumns']),
    ...mapOf(['metaData', 'configuration']),
    ['metaData', 'createdTime'],
    ['protocol', 'minReaderVersion'],
    ['protocol', 'minWriterVersion'],
    ...listOf(['protocol', 'readerFeatures']),
    ...listOf(['protocol', 'writerFeatures']),
    ['sidecar', 'path'],
    ['sidecar', 'sizeInBytes'],
  ];
  return paths;
}

/**
 * Rows decoded (and built into adds) between two yields, and handed to the sink at a time: a few
 * ms even while the code is cold.
 */
const ROW_SLICE = 1024;
const ROW_SLICE_MASK = ROW_SLICE - 1;

/** add.path and add.stats are streamed (indexes 0-1). */
const STREAMED: ReadonlySet<number> = new Set([0, 1]);

async function readParquet(
  storage: DeltaStorage,
  file: ParquetFile,
  classifier: TupleClassifier,
  sink: RowSink,
  sidecars: CheckpointFile[],
  io: IoStats,
): Promise<void> {
  const paths = layout(file);
  const groups = file.metadata.row_groups.length;
  let pending = groups > 0 ? readLeaves(storage, file, 0, paths, io, STREAMED) : undefined;
  for (let rg = 0; rg < groups; rg++) {
    const leaves = await pending!;
    pending = rg + 1 < groups ? readLeaves(storage, file, rg + 1, paths, io, STREAMED) : undefined;
    // Observe the prefetch now: if this group fails, its rejection must not go unhandled.
    pending?.catch(() => {});
    const rows: ReadRow[] = [];
    const n = Number(file.metadata.row_groups[rg]!.num_rows);
    const readers = rowReaders(file, leaves, classifier, rows);
    for (let r = 0; r < n; r++) {
      if ((r & ROW_SLICE_MASK) === ROW_SLICE_MASK) {
        // `rows` is the readers' own array: emptied in place.
        if (rows.length > 0) await sink(rows.splice(0));
        await yieldToEventLoop();
      }
      for (const read of readers) read();
    }
    for (const sc of readers.sidecars) sidecars.push(await sidecarFile(storage, sc[0], sc[1]));
    await sink(rows);
  }
}

const isNullLeaf = (l: Leaf) => l.pages === undefined && l.values.length === 0;

/**
 * One reader per action struct that has any value in this row group (a big checkpoint's row
 * groups hold only adds: the other structs cost nothing there). Each call consumes one row.
 */
function rowReaders(file: ParquetFile, leaves: Leaf[], classifier: TupleClassifier, rows: ReadRow[]) {
  let i = 0;
  const take = (k: number) => {
    i += k;
    return leaves.slice(i - k, i);
  };
  const [addPathL, addStatsL] = take(2) as [Leaf, Leaf];
  const addL = take(5 + DV_FIELDS.length);
  const metaL = take(3 + 1 + 2 + 1);
  const protoL = take(4);
  const scL = take(2);
  const live = (ls: Leaf[]) => ls.some((l) => !isNullLeaf(l));
  const readers: (() => void)[] & { sidecars: [unknown, unknown][] } = Object.assign([], { sidecars: [] });
  const s = (l: Leaf) => new ScalarCursor(l);
  const values = classifier.values;
  const named = new Uint8Array(values.length);

  if (live([addPathL, addStatsL, ...addL])) {
    const path = new StringCursor(addPathL, file, 'add.path');
    const stats = new StringCursor(addStatsL, file, 'add.stats');
    const pv = new MapCursor(addL[0]!, addL[1]!, file, 'add.partitionValues');
    const [size, mod, change] = [s(addL[2]!), s(addL[3]!), s(addL[4]!)];
    const dvLeaves = addL.slice(5);
    const dvs = live(dvLeaves) ? dvLeaves.map(s) : [];
    const dv: unknown[] = new Array(DV_FIELDS.length);
    readers.push(() => {
      const has = path.next();
      const hasStats = stats.next();
      pv.next();
      const sz = size.next();
      const mt = mod.next();
      const dc = change.next();
      for (let d = 0; d < dvs.length; d++) dv[d] = dvs[d]!.next();
      if (!has) return;
      values.fill(null);
      named.fill(0);
      let present = 0;
      for (let e = 0; e < pv.size; e++) {
        const ci = classifier.columnOf(pv.keys[e]!);
        const v = pv.values[e]!;
        if (ci >= 0) {
          values[ci] = v === '' ? null : v;
          // A key repeated (Parquet maps allow it) names its column once.
          if (!named[ci]) present++;
          named[ci] = 1;
        } else if (values.length > 0) present = Number.NEGATIVE_INFINITY;
      }
      // A map lacking a partition column (or naming another) is refused, as the snapshot's replay refuses it.
      if (present < values.length || !classifier.readableValues()) return;
      const add: Obj = {
        path: path.value(),
        partitionValues: pv.toObject(),
        size: sz,
        modificationTime: mt,
        dataChange: dc,
      };
      if (hasStats) add.stats = stats.value();
      const d = dvs.length ? dvOf(dv) : undefined;
      if (d) add.deletionVector = d;
      rows.push({ add });
    });
  }
  if (live(metaL)) {
    const [id, provider, schema] = [s(metaL[0]!), s(metaL[1]!), s(metaL[2]!)];
    const cols = new ListCursor(metaL[3]!, file, 'metaData.partitionColumns');
    const conf = new MapCursor(metaL[4]!, metaL[5]!, file, 'metaData.configuration');
    const created = s(metaL[6]!);
    readers.push(() => {
      const mid = stringOrNull(id.next(), file, 'metaData.id');
      const prov = stringOrNull(provider.next(), file, 'metaData.format.provider');
      const sch = stringOrNull(schema.next(), file, 'metaData.schemaString');
      const pc = cols.next();
      conf.next();
      const ct = created.next();
      if (sch === null) return;
      rows.push({
        metaData: {
          ...(mid !== null ? { id: mid } : {}),
          format: { provider: prov ?? 'parquet', options: {} },
          schemaString: sch,
          partitionColumns: pc,
          configuration: conf.toObject(),
          ...(ct !== null ? { createdTime: ct } : {}),
        },
      });
    });
  }
  if (live(protoL)) {
    const [minR, minW] = [s(protoL[0]!), s(protoL[1]!)];
    const reader = new ListCursor(protoL[2]!, file, 'protocol.readerFeatures');
    const writer = new ListCursor(protoL[3]!, file, 'protocol.writerFeatures');
    readers.push(() => {
      const r = minR.next();
      const w = minW.next();
      const rf = reader.next();
      const wf = writer.next();
      if (r === null) return;
      rows.push({
        protocol: {
          minReaderVersion: r,
          ...(w !== null ? { minWriterVersion: w } : {}),
          ...((r as number) >= 3 ? { readerFeatures: rf } : {}),
          ...(w !== null && (w as number) >= 7 ? { writerFeatures: wf } : {}),
        },
      });
    });
  }
  if (live(scL)) {
    const [p, size] = [s(scL[0]!), s(scL[1]!)];
    readers.push(() => {
      const sp = stringOrNull(p.next(), file, 'sidecar.path');
      const ss = size.next();
      if (sp !== null) readers.sidecars.push([sp, ss]);
    });
  }
  return readers;
}

function dvOf(v: unknown[]): Obj | undefined {
  const [storageType, pathOrInlineDv, offset, sizeInBytes, cardinality, maxRowIndex] = v;
  if (typeof storageType !== 'string' || typeof pathOrInlineDv !== 'string') return undefined;
  const d: Obj = { storageType, pathOrInlineDv };
  if (offset !== null) d.offset = offset;
  if (sizeInBytes !== null) d.sizeInBytes = sizeInBytes;
  if (cardinality !== null) d.cardinality = cardinality;
  if (maxRowIndex !== null) d.maxRowIndex = maxRowIndex;
  return d;
}

function isObj(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
