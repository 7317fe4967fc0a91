/**
 * Reads the actions of a checkpoint of any form (classic or multi-part Parquet, UUID-named v2 in
 * Parquet or JSON, and its sidecars) for the filtered view, row group by row group. Adds are
 * classified on their partition values as they are decoded, and only the readable ones are built
 * into objects: the path and statistics bytes of the other rows are skipped over, never turned
 * into strings. Removes (tombstones), metaData and protocol rows are handed on whole; txn,
 * domainMetadata, checkpointMetadata and anything else is not read at all.
 */
import type { CheckpointFile } from '../delta/checkpoint-reader';
import { DeltaLogError } from '../delta/delta-log-error';
import { type DeltaStorage, isNotFound } from '../delta/delta-storage';
import { SIDECAR_DIR } from '../delta/log-path';
import { actionLines } from '../delta/log-replay';
import {
  type IoStats,
  type Leaf,
  leavesUnder,
  openParquet,
  type ParquetFile,
  RepeatedCursor,
  readLeaves,
  ScalarCursor,
} from '../delta/parquet-leaves';
import type { PartitionValues } from '../delta/path-partitions';
import { decodePath } from '../delta/table-root';
import type { TupleClassifier } from './file-grant';

type Obj = Record<string, unknown>;

/** One action of the checkpoint; `add` rows arrive only when readable. */
export type CheckpointRow = { add: Obj } | { remove: Obj } | { metaData: Obj } | { protocol: Obj };

export type RowSink = (rows: CheckpointRow[]) => Promise<void>;

export async function readCheckpointRows(
  storage: DeltaStorage,
  parts: readonly CheckpointFile[],
  classifier: TupleClassifier,
  sink: RowSink,
  io: IoStats,
): Promise<void> {
  const sidecars: CheckpointFile[] = [];
  for (const part of parts) {
    if (part.format === 'json') await readJson(storage, part, classifier, sink, sidecars);
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
    const file = await openParquet(storage, sc.path, sc.size, io);
    await readParquet(storage, file, classifier, sink, [], io);
  }
}

async function readJson(
  storage: DeltaStorage,
  part: CheckpointFile,
  classifier: TupleClassifier,
  sink: RowSink,
  sidecars: CheckpointFile[],
): Promise<void> {
  const text = new TextDecoder().decode(await storage.read(part.path));
  const rows: CheckpointRow[] = [];
  for (const [a] of actionLines(text, part.path)) {
    if (isObj(a.sidecar)) sidecars.push(await sidecarFile(storage, a.sidecar.path, a.sidecar.sizeInBytes));
    else if (isObj(a.add)) {
      if (classifier.readable(a.add.partitionValues as PartitionValues)) rows.push({ add: a.add });
    } else if (isObj(a.remove)) rows.push({ remove: a.remove });
    else if (isObj(a.metaData)) rows.push({ metaData: a.metaData });
    else if (isObj(a.protocol)) rows.push({ protocol: a.protocol });
  }
  await sink(rows);
}

async function sidecarFile(
  storage: DeltaStorage,
  path: unknown,
  sizeInBytes: unknown,
): Promise<CheckpointFile> {
  if (typeof path !== 'string' || path.includes('/') || path.includes(':')) {
    throw new DeltaLogError(
      'Malformed',
      `sidecar path "${String(path)}" is not a file name in ${SIDECAR_DIR}`,
    );
  }
  const rel = `${SIDECAR_DIR}${decodePath(path)}`;
  if (typeof sizeInBytes === 'number' && sizeInBytes > 0)
    return { path: rel, size: sizeInBytes, format: 'parquet' };
  try {
    return { path: rel, size: await storage.size(rel), format: 'parquet' };
  } catch (e) {
    if (isNotFound(e)) throw new DeltaLogError('MissingLog', `sidecar ${rel} is missing`, { cause: e });
    throw e;
  }
}

const utf8 = new TextDecoder();

/** A string leaf, streamed page by page when possible: a value is decoded only when asked for. */
class StringCursor {
  private readonly scalar?: ScalarCursor;
  private current: unknown = null;
  constructor(private readonly leaf: Leaf) {
    if (!leaf.pages) this.scalar = new ScalarCursor(leaf);
  }
  /** Moves to the next row; true when it holds a value. */
  next(): boolean {
    if (this.scalar) {
      this.current = this.scalar.next();
      return this.current !== null;
    }
    return this.leaf.pages!.next();
  }
  value(): string {
    if (this.scalar) return String(this.current);
    const p = this.leaf.pages!;
    return utf8.decode(p.bytes.subarray(p.start, p.end));
  }
}

/** A map leaf pair as a plain object per row (null for a null map). */
class MapCursor {
  private readonly cursor: RepeatedCursor;
  private entries: [string, string | null][] = [];
  private readonly push = (k: unknown, v: unknown) => {
    this.entries.push([String(k), v === null || v === undefined ? null : String(v)]);
  };
  constructor(keys: Leaf, values: Leaf) {
    this.cursor = new RepeatedCursor(keys, values);
  }
  next(): [string, string | null][] {
    this.entries = [];
    this.cursor.next(this.push);
    return this.entries;
  }
}

class ListCursor {
  private readonly cursor: RepeatedCursor;
  private items: string[] = [];
  private readonly push = (x: unknown) => {
    this.items.push(String(x));
  };
  constructor(leaf: Leaf) {
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
    ['remove', 'path'],
    ...mapOf(['add', 'partitionValues']),
    ['add', 'size'],
    ['add', 'modificationTime'],
    ['add', 'dataChange'],
    ...DV_FIELDS.map((f) => ['add', 'deletionVector', f]),
    ['remove', 'deletionTimestamp'],
    ['remove', 'dataChange'],
    ['remove', 'extendedFileMetadata'],
    ...mapOf(['remove', 'partitionValues']),
    ['remove', 'size'],
    ...DV_FIELDS.map((f) => ['remove', 'deletionVector', f]),
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

/** add.path, add.stats and remove.path are streamed (indexes 0-2). */
const STREAMED: ReadonlySet<number> = new Set([0, 1, 2]);

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
  const values = classifier.values;
  let pending = groups > 0 ? readLeaves(storage, file, 0, paths, io, STREAMED) : undefined;
  for (let rg = 0; rg < groups; rg++) {
    const leaves = await pending!;
    pending = rg + 1 < groups ? readLeaves(storage, file, rg + 1, paths, io, STREAMED) : undefined;
    // Observe the prefetch now: if this group fails, its rejection must not go unhandled.
    pending?.catch(() => {});
    let i = 0;
    const L = () => leaves[i++]!;
    const s = (l: Leaf) => new ScalarCursor(l);
    const addPath = new StringCursor(L());
    const addStats = new StringCursor(L());
    const rmPath = new StringCursor(L());
    const addPv = new MapCursor(L(), L());
    const addSize = s(L());
    const addMod = s(L());
    const addChange = s(L());
    const addDv = DV_FIELDS.map(() => s(L()));
    const rmTime = s(L());
    const rmChange = s(L());
    const rmExt = s(L());
    const rmPv = new MapCursor(L(), L());
    const rmSize = s(L());
    const rmDv = DV_FIELDS.map(() => s(L()));
    const mId = s(L());
    const mProvider = s(L());
    const mSchema = s(L());
    const mCols = new ListCursor(L());
    const mConf = new MapCursor(L(), L());
    const mCreated = s(L());
    const pMinR = s(L());
    const pMinW = s(L());
    const pReader = new ListCursor(L());
    const pWriter = new ListCursor(L());
    const scPath = s(L());
    const scSize = s(L());

    const rows: CheckpointRow[] = [];
    const n = Number(file.metadata.row_groups[rg]!.num_rows);
    for (let r = 0; r < n; r++) {
      if ((r & 8191) === 8191) await yieldToEventLoop();
      const hasAdd = addPath.next();
      const hasStats = addStats.next();
      const hasRemove = rmPath.next();
      const pv = addPv.next();
      const size = addSize.next();
      const mod = addMod.next();
      const change = addChange.next();
      const dv = addDv.map((c) => c.next());
      if (hasAdd) {
        values.fill(null);
        for (const [k, v] of pv) {
          const ci = classifier.columnOf(k);
          if (ci >= 0) values[ci] = v === '' ? null : v;
        }
        if (classifier.readableValues()) {
          const add: Obj = {
            path: addPath.value(),
            partitionValues: Object.fromEntries(pv),
            size,
            modificationTime: mod,
            dataChange: change,
          };
          if (hasStats) add.stats = addStats.value();
          const d = dvOf(dv);
          if (d) add.deletionVector = d;
          rows.push({ add });
        }
      }
      const rt = rmTime.next();
      const rc = rmChange.next();
      const re = rmExt.next();
      const rpv = rmPv.next();
      const rs = rmSize.next();
      const rdv = rmDv.map((c) => c.next());
      if (hasRemove) {
        const remove: Obj = { path: rmPath.value() };
        if (rt !== null) remove.deletionTimestamp = rt;
        remove.dataChange = rc ?? false;
        if (re !== null) remove.extendedFileMetadata = re;
        // A null map (not written) and an empty one differ: only a present map classifies.
        if (rpv.length || re === true) remove.partitionValues = Object.fromEntries(rpv);
        if (rs !== null) remove.size = rs;
        const d = dvOf(rdv);
        if (d) remove.deletionVector = d;
        rows.push({ remove });
      }
      const id = mId.next();
      const provider = mProvider.next();
      const schema = mSchema.next();
      const cols = mCols.next();
      const conf = mConf.next();
      const created = mCreated.next();
      if (schema !== null) {
        rows.push({
          metaData: {
            ...(id !== null ? { id } : {}),
            format: { provider: provider ?? 'parquet', options: {} },
            schemaString: schema,
            partitionColumns: cols,
            configuration: Object.fromEntries(conf),
            ...(created !== null ? { createdTime: created } : {}),
          },
        });
      }
      const minR = pMinR.next();
      const minW = pMinW.next();
      const rf = pReader.next();
      const wf = pWriter.next();
      if (minR !== null) {
        rows.push({
          protocol: {
            minReaderVersion: minR,
            ...(minW !== null ? { minWriterVersion: minW } : {}),
            ...((minR as number) >= 3 ? { readerFeatures: rf } : {}),
            ...(minW !== null && (minW as number) >= 7 ? { writerFeatures: wf } : {}),
          },
        });
      }
      const scp = scPath.next();
      const scs = scSize.next();
      if (scp !== null) sidecars.push(await sidecarFile(storage, scp, scs));
    }
    await sink(rows);
  }
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
