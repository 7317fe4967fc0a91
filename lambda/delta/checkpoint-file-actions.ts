/**
 * Reads one kind of file action (`remove` tombstones, or `add`) from a checkpoint of any form
 * (classic, multi-part, UUID-named v2 with sidecars, JSON), visiting each with its path,
 * partition values (undefined when the action does not carry them), deletion timestamp and
 * deletion vector. Only those leaf columns are fetched, row group by row group; row groups whose
 * statistics show no such action are skipped. The snapshot never needs this: the retained
 * history reads the tombstones, and (rarely) the adds of a few removed paths.
 */
import { type CheckpointFile, mayHoldAny, readSmallActions, sidecarFile } from './checkpoint-reader';
import { DeltaLogError } from './delta-log-error';
import type { DeltaStorage } from './delta-storage';
import { forEachAction, LogReplay, metadataOf } from './log-replay';
import {
  type IoStats,
  leavesUnder,
  openParquet,
  type ParquetFile,
  RepeatedCursor,
  readLeaves,
  ScalarCursor,
  stringOrNull,
} from './parquet-leaves';
import type { TableMetadata } from './table-metadata';
import { type DeletionVectorDescriptor, TableRoot } from './table-root';
import { emptyState, type TableState } from './table-state';

export type PartitionValues = Record<string, string | null>;

export interface CheckpointFileAction {
  /** As in the log: a percent-encoded relative path or an absolute URI. */
  path: string;
  /** Undefined when the action carries no partition values (no `extendedFileMetadata`). */
  partitionValues: PartitionValues | undefined;
  deletionTimestamp: number | undefined;
  deletionVector: DeletionVectorDescriptor | null;
}

export interface CheckpointHeader {
  metadata: TableMetadata | undefined;
}

/**
 * Visits every `kind` action of the checkpoint. `want(path)` (optional) filters by log path
 * before partition values are decoded. Returns the checkpoint's metaData.
 */
export async function readCheckpointFileActions(
  storage: DeltaStorage,
  parts: readonly CheckpointFile[],
  kind: 'add' | 'remove',
  io: IoStats,
  visit: (a: CheckpointFileAction) => void,
  want?: (path: string) => boolean,
  /** Called once with the checkpoint's metaData before the first action is visited. */
  onHeader?: (h: CheckpointHeader) => void,
): Promise<CheckpointHeader> {
  const { state, replay } = headerReplay();
  const sidecars: CheckpointFile[] = [];
  const parquet: ParquetFile[] = [];
  // Actions of JSON parts (small files) wait until the header is known.
  const inline: CheckpointFileAction[] = [];
  for (const part of parts) {
    if (part.format === 'json') {
      await readJsonPart(storage, part, kind, replay, sidecars, (a) => inline.push(a), want);
      continue;
    }
    const file = await openParquet(storage, part.path, part.size, io);
    await readSmallActions(storage, file, replay, sidecars, io);
    parquet.push(file);
  }
  const header = { metadata: state.metadata };
  onHeader?.(header);
  for (const a of inline) visit(a);
  for (const sc of sidecars) parquet.push(await openParquet(storage, sc.path, sc.size, io, sc.sizeFromLog));
  for (const file of parquet) await readParquetActions(storage, file, kind, io, visit, want);
  return header;
}

/** The checkpoint's metaData alone: its small actions are read, its file actions are not. */
export async function readCheckpointHeader(
  storage: DeltaStorage,
  parts: readonly CheckpointFile[],
  io: IoStats,
): Promise<CheckpointHeader> {
  const { state, replay } = headerReplay();
  for (const part of parts) {
    if (part.format === 'json') await readJsonPart(storage, part, 'remove', replay, [], () => {});
    else
      await readSmallActions(storage, await openParquet(storage, part.path, part.size, io), replay, [], io);
  }
  return { metadata: state.metadata };
}

function headerReplay(): { state: TableState; replay: LogReplay } {
  const state = emptyState();
  // The header replay only collects protocol/metaData; its root is never used to resolve paths.
  return { state, replay: new LogReplay(state, new TableRoot('s3://checkpoint/header')) };
}

async function readJsonPart(
  storage: DeltaStorage,
  part: CheckpointFile,
  kind: 'add' | 'remove',
  replay: LogReplay,
  sidecars: CheckpointFile[],
  visit: (a: CheckpointFileAction) => void,
  want?: (path: string) => boolean,
): Promise<void> {
  // Parsed a slice at a time: a checkpoint of a big table's file actions may be tens of MB.
  await forEachAction(await storage.read(part.path), part.path, async (a, at) => {
    const sc = a.sidecar as { path?: unknown; sizeInBytes?: unknown } | undefined;
    if (sc && typeof sc.path === 'string') sidecars.push(await sidecarFile(storage, sc.path, sc.sizeInBytes));
    else if (a.metaData) replay.s.metadata = metadataOf(a.metaData, at);
    const x = a[kind] as Record<string, unknown> | undefined;
    if (!x) return;
    if (typeof x.path !== 'string' || x.path === '')
      throw new DeltaLogError('Malformed', `${at}: file action without a path`);
    if (want && !want(x.path)) return;
    visit(jsonFileAction(x));
  });
}

/** A commit's or JSON checkpoint's file action in the shape above. */
export function jsonFileAction(x: Record<string, unknown>): CheckpointFileAction {
  const pv = x.partitionValues;
  const ts = x.deletionTimestamp;
  const dv = x.deletionVector as DeletionVectorDescriptor | null | undefined;
  return {
    path: x.path as string,
    partitionValues: pv !== null && typeof pv === 'object' ? (pv as PartitionValues) : undefined,
    deletionTimestamp: typeof ts === 'number' ? ts : undefined,
    deletionVector: dv && typeof dv === 'object' ? dv : null,
  };
}

/** The partition-values key leaf (index 1) is read for its levels: an empty map is not a missing one. */
const KEY_LEVELS: ReadonlySet<number> = new Set([1]);

async function readParquetActions(
  storage: DeltaStorage,
  file: ParquetFile,
  kind: 'add' | 'remove',
  io: IoStats,
  visit: (a: CheckpointFileAction) => void,
  want?: (path: string) => boolean,
): Promise<void> {
  const pv = leavesUnder(file.tree, [kind, 'partitionValues']);
  const paths = [
    [kind, 'path'],
    pv[0] ?? ['-'],
    pv[1] ?? ['-'],
    [kind, 'deletionTimestamp'],
    [kind, 'deletionVector', 'storageType'],
    [kind, 'deletionVector', 'pathOrInlineDv'],
    [kind, 'deletionVector', 'offset'],
  ];
  for (let rg = 0; rg < file.metadata.row_groups.length; rg++) {
    const group = file.metadata.row_groups[rg]!;
    if (!mayHoldAny(group, [[kind, 'path']])) continue;
    const [pathL, keyL, valL, tsL, stL, dvL, offL] = await readLeaves(
      storage,
      file,
      rg,
      paths,
      io,
      undefined,
      KEY_LEVELS,
    );
    // A map key leaf always has repetition levels; a null leaf (column absent) has none.
    const pvColumn = keyL!.rep !== undefined;
    const pathC = new ScalarCursor(pathL!);
    const pvC = new RepeatedCursor(keyL!, valL!);
    const tsC = new ScalarCursor(tsL!);
    const stC = new ScalarCursor(stL!);
    const dvC = new ScalarCursor(dvL!);
    const offC = new ScalarCursor(offL!);
    let values: PartitionValues | undefined;
    const onValue = (k: unknown, v: unknown) => {
      if (!values) return;
      const key = stringOrNull(k, file, `${kind}.partitionValues.key`);
      if (key !== null) values[key] = stringOrNull(v, file, `${kind}.partitionValues.value`);
    };
    const rows = Number(group.num_rows);
    for (let r = 0; r < rows; r++) {
      if ((r & 16383) === 16383) await yieldToEventLoop();
      const path = stringOrNull(pathC.next(), file, `${kind}.path`);
      const keep = path !== null && path !== '' && (!want || want(path));
      // No prototype: a "__proto__" key is an entry like any other (on {} it would set the prototype).
      values = keep && pvColumn && pvC.peekDef() >= keyL!.maxDef - 1 ? Object.create(null) : undefined;
      pvC.next(onValue);
      const ts = tsC.next();
      const st = stC.next();
      const dvp = dvC.next();
      const off = offC.next();
      if (!keep) continue;
      visit({
        path: path!,
        partitionValues: values,
        deletionTimestamp: typeof ts === 'number' ? ts : undefined,
        deletionVector:
          typeof st === 'string' && typeof dvp === 'string'
            ? { storageType: st, pathOrInlineDv: dvp, offset: typeof off === 'number' ? off : null }
            : null,
      });
    }
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    setImmediate(resolve);
  });
}
