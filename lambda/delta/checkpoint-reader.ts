/**
 * Reads a checkpoint (classic, multi-part, or UUID-named v2 with sidecars) into a LogReplay.
 * Two passes: first the small actions (protocol, metaData, sidecar) so the partition columns
 * and reader features are known, then — only if the table is readable — the add actions, row
 * group by row group, decoding just add.path, add.partitionValues and the DV id fields.
 * Checkpoint removes are tombstones for VACUUM and never affect the active set, so they are
 * not read at all.
 */
import { WorkSlices, yieldToEventLoop } from '../core/event-loop';
import { prefetch } from '../core/prefetch';
import { DeltaLogError } from './delta-log-error';
import { type DeltaStorage, isNotFound } from './delta-storage';
import { SIDECAR_DIR } from './log-path';
import type { LogReplay } from './log-replay';
import { addActionToBatch, emptyBatch, forEachAction, metadataOf, protocolOf } from './log-replay';
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
import { NO_TUPLE } from './snapshot-view';
import { unsupportedReaderFeatures } from './table-metadata';
import { type DeletionVectorDescriptor, decodePath } from './table-root';

export interface CheckpointFile {
  path: string;
  size: number;
  format: 'parquet' | 'json';
  /** `size` is the log's `sizeInBytes` (a sidecar), not a listing's: see FilePin. */
  sizeFromLog?: boolean;
}

/**
 * Reads every part of one checkpoint into `replay` (whose state starts empty). The adds of a
 * table with a reader feature the proxy does not support are skipped, unless `allAdds` (a later
 * commit dropped the feature: readers take the checkpoint's adds whatever its protocol).
 */
export async function readCheckpoint(
  storage: DeltaStorage,
  parts: readonly CheckpointFile[],
  replay: LogReplay,
  io: IoStats,
  allAdds = false,
): Promise<void> {
  // The adds of every part and sidecar are one set: a file named twice in it is refused.
  replay.beginCheckpointAdds();
  try {
    await readCheckpointParts(storage, parts, replay, io, allAdds);
  } finally {
    replay.endCheckpointAdds();
  }
}

async function readCheckpointParts(
  storage: DeltaStorage,
  parts: readonly CheckpointFile[],
  replay: LogReplay,
  io: IoStats,
  allAdds: boolean,
): Promise<void> {
  const parquetParts: ParquetFile[] = [];
  const sidecars: CheckpointFile[] = [];
  for (const part of parts) {
    if (part.format === 'json') {
      await readJsonCheckpoint(storage, part, replay, sidecars, allAdds);
      continue;
    }
    const file = await openParquet(storage, part.path, part.size, io);
    parquetParts.push(file);
    await readSmallActions(storage, file, replay, sidecars, io);
  }
  if (!replay.s.metadata || !replay.s.protocol) {
    throw new DeltaLogError(
      'Malformed',
      `checkpoint ${parts[0]?.path} has no ${replay.s.metadata ? 'protocol' : 'metaData'}`,
    );
  }
  if (!allAdds && unsupportedReaderFeatures(replay.s.protocol, replay.s.metadata).length) return;
  const sidecarFiles: ParquetFile[] = [];
  for (const sc of sidecars)
    sidecarFiles.push(await openParquet(storage, sc.path, sc.size, io, sc.sizeFromLog));
  const files = [...parquetParts, ...sidecarFiles];
  // Size the path index once from the footers (adds = non-null add.path values when the
  // statistics say so): no rehashing or regrowth during the load.
  let adds = 0;
  for (const f of files) {
    for (const rg of f.metadata.row_groups) {
      const col = rg.columns.find((c) => c.meta_data?.path_in_schema.join('.') === 'add.path')?.meta_data;
      const nulls = col?.statistics?.null_count;
      adds += Number(col?.num_values ?? rg.num_rows) - (nulls === undefined ? 0 : Number(nulls));
    }
  }
  // The footers' counts are the writer's word: no more files than the files have bytes (a count
  // of 10^8 in a few bytes of footer would otherwise size gigabytes of index).
  await replay.reserve(
    Math.min(
      adds,
      files.reduce((n, f) => n + f.size, 0),
    ),
  );
  for (const file of files) await readAdds(storage, file, replay, io);
}

async function readJsonCheckpoint(
  storage: DeltaStorage,
  part: CheckpointFile,
  replay: LogReplay,
  sidecars: CheckpointFile[],
  allAdds: boolean,
): Promise<void> {
  const batch = emptyBatch();
  // Parsed and applied a slice at a time: a JSON checkpoint's inline adds may be tens of MB.
  await forEachAction(await storage.read(part.path), part.path, async (a, at) => {
    const sc = a.sidecar as { path?: unknown; sizeInBytes?: unknown } | undefined;
    if (sc && typeof sc.path === 'string') sidecars.push(await sidecarFile(storage, sc.path, sc.sizeInBytes));
    else addActionToBatch(batch, a, at);
  });
  // A checkpoint holds no add and remove for the same file: only its adds matter.
  if (batch.protocol) replay.s.protocol = batch.protocol;
  if (batch.metadata) replay.setMetadata(batch.metadata);
  if (!allAdds && unsupportedReaderFeatures(replay.s.protocol, replay.s.metadata).length) return;
  await replay.applyBatchInSlices({ ...emptyBatch(), adds: batch.adds });
}

/** A sidecar action's file: a name in _delta_log/_sidecars/, its size from the log or a HEAD. */
export async function sidecarFile(
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
    return { path: rel, size: sizeInBytes, format: 'parquet', sizeFromLog: true };
  try {
    return { path: rel, size: await storage.size(rel), format: 'parquet' };
  } catch (e) {
    if (isNotFound(e)) throw new DeltaLogError('MissingLog', `sidecar ${rel} is missing`, { cause: e });
    throw e;
  }
}

const SMALL = {
  minReader: ['protocol', 'minReaderVersion'],
  minWriter: ['protocol', 'minWriterVersion'],
  readerFeatures: ['protocol', 'readerFeatures'],
  writerFeatures: ['protocol', 'writerFeatures'],
  metaId: ['metaData', 'id'],
  schemaString: ['metaData', 'schemaString'],
  partitionColumns: ['metaData', 'partitionColumns'],
  configuration: ['metaData', 'configuration'],
  sidecarPath: ['sidecar', 'path'],
  sidecarSize: ['sidecar', 'sizeInBytes'],
} as const;

/** protocol, metaData and sidecar references of one Parquet part, into `replay` and `sidecars`. */
export async function readSmallActions(
  storage: DeltaStorage,
  file: ParquetFile,
  replay: LogReplay,
  sidecars: CheckpointFile[],
  io: IoStats,
): Promise<void> {
  const t = file.tree;
  const rf = leavesUnder(t, SMALL.readerFeatures);
  const wf = leavesUnder(t, SMALL.writerFeatures);
  const pc = leavesUnder(t, SMALL.partitionColumns);
  const conf = leavesUnder(t, SMALL.configuration);
  const paths = [
    SMALL.minReader,
    SMALL.minWriter,
    rf[0] ?? ['-'],
    SMALL.metaId,
    SMALL.schemaString,
    pc[0] ?? ['-'],
    conf[0] ?? ['-'],
    conf[1] ?? ['-'],
    SMALL.sidecarPath,
    SMALL.sidecarSize,
    wf[0] ?? ['-'],
  ];
  const features: string[] = [];
  const writerFeatures: string[] = [];
  const partitionColumns: string[] = [];
  let configuration: Record<string, string> = {};
  const onFeature = (f: unknown) => {
    features.push(stringOrNull(f, file, 'protocol.readerFeatures') ?? '');
  };
  const onWriterFeature = (f: unknown) => {
    writerFeatures.push(stringOrNull(f, file, 'protocol.writerFeatures') ?? '');
  };
  const onPartitionColumn = (p: unknown) => {
    partitionColumns.push(stringOrNull(p, file, 'metaData.partitionColumns') ?? '');
  };
  const onConfig = (k: unknown, v: unknown) => {
    const value = stringOrNull(v, file, 'metaData.configuration');
    if (value !== null) configuration[stringOrNull(k, file, 'metaData.configuration') ?? ''] = value;
  };
  for (let rg = 0; rg < file.metadata.row_groups.length; rg++) {
    const group = file.metadata.row_groups[rg]!;
    // Most row groups of a big checkpoint hold only file actions: skip them on statistics alone.
    if (!mayHoldAny(group, [SMALL.minReader, SMALL.schemaString, SMALL.sidecarPath])) continue;
    const rows = Number(group.num_rows);
    const [minR, minW, feat, id, schema, pcols, ck, cv, scPath, scSize, wfeat] = await readLeaves(
      storage,
      file,
      rg,
      paths,
      io,
    );
    const c = {
      minR: new ScalarCursor(minR!),
      minW: new ScalarCursor(minW!),
      feat: new RepeatedCursor(feat!),
      wfeat: new RepeatedCursor(wfeat!),
      id: new ScalarCursor(id!),
      schema: new ScalarCursor(schema!),
      pcols: new RepeatedCursor(pcols!),
      conf: new RepeatedCursor(ck!, cv!),
      scPath: new ScalarCursor(scPath!),
      scSize: new ScalarCursor(scSize!),
    };
    // A row group may hold millions of rows (its footer says so): never walked in one block.
    const slices = new WorkSlices(ROW_SLICE, FIRST_ROW_SLICE);
    for (let r = 0; r < rows; r++) {
      if (slices.spend(1)) await yieldToEventLoop();
      features.length = 0;
      writerFeatures.length = 0;
      partitionColumns.length = 0;
      configuration = {};
      const minReaderVersion = c.minR.next();
      const minWriterVersion = c.minW.next();
      c.feat.next(onFeature);
      c.wfeat.next(onWriterFeature);
      const metaId = stringOrNull(c.id.next(), file, 'metaData.id');
      const schemaString = stringOrNull(c.schema.next(), file, 'metaData.schemaString');
      c.pcols.next(onPartitionColumn);
      c.conf.next(onConfig);
      const scp = stringOrNull(c.scPath.next(), file, 'sidecar.path');
      const scs = c.scSize.next();
      if (typeof minReaderVersion === 'number') {
        replay.s.protocol = protocolOf(
          {
            minReaderVersion,
            ...(typeof minWriterVersion === 'number' ? { minWriterVersion } : {}),
            // Both lists at every version: a reader honours a feature named in either.
            readerFeatures: [...features],
            writerFeatures: [...writerFeatures],
          },
          file.path,
        );
      }
      if (typeof schemaString === 'string') {
        replay.setMetadata(
          metadataOf(
            {
              ...(typeof metaId === 'string' ? { id: metaId } : {}),
              schemaString,
              partitionColumns: [...partitionColumns],
              configuration,
            },
            file.path,
          ),
        );
      }
      if (typeof scp === 'string') sidecars.push(await sidecarFile(storage, scp, scs));
    }
  }
}

/** False when the row group's statistics show every one of these columns is null. */
export function mayHoldAny(
  group: ParquetFile['metadata']['row_groups'][number],
  paths: readonly (readonly string[])[],
): boolean {
  return paths.some((p) => {
    const key = p.join('.');
    const col = group.columns.find((c) => c.meta_data?.path_in_schema.join('.') === key)?.meta_data;
    if (!col) return false;
    const nulls = col.statistics?.null_count;
    return nulls === undefined || nulls !== col.num_values;
  });
}

/**
 * Rows of a checkpoint walked between two yields (each indexes a file): a few ms warm, and
 * smaller first slices while the code is still cold.
 */
const ROW_SLICE = 2048;
const FIRST_ROW_SLICE = 256;
/**
 * Path characters counted as one more row: a ~1,000-character path (many partition columns, long
 * values) costs about as much as eight ordinary rows (2,048 of them: 40-116 ms between yields).
 */
const ROW_PATH_CHARS = 128;

/** add.path (leaf 0) is streamed: page bytes go straight into the path index, a page at a time. */
const STREAM_PATH: ReadonlySet<number> = new Set([0]);

async function readAdds(
  storage: DeltaStorage,
  file: ParquetFile,
  replay: LogReplay,
  io: IoStats,
): Promise<void> {
  const t = file.tree;
  const pv = leavesUnder(t, ['add', 'partitionValues']);
  const paths = [
    ['add', 'path'],
    pv[0] ?? ['-'],
    pv[1] ?? ['-'],
    ['add', 'deletionVector', 'storageType'],
    ['add', 'deletionVector', 'pathOrInlineDv'],
    ['add', 'deletionVector', 'offset'],
  ];
  const width = replay.s.columns.length;
  const values: (string | null)[] = new Array(width).fill(null);
  // Columns named in this row's map: a key repeated (Parquet maps allow it) counts once.
  const named = new Uint8Array(width);
  const groups = file.metadata.row_groups.length;
  // Fetch the next row group while decoding this one; the fetch may fail while this one is
  // decoded (or this one may fail first), so it is observed from the start.
  let pending = groups > 0 ? readLeaves(storage, file, 0, paths, io, STREAM_PATH) : undefined;
  for (let rg = 0; rg < groups; rg++) {
    const leaves = await pending!;
    pending =
      rg + 1 < groups ? prefetch(readLeaves(storage, file, rg + 1, paths, io, STREAM_PATH)) : undefined;
    const [pathL, keyL, valL, stL, dvL, offL] = leaves;
    const rows = Number(file.metadata.row_groups[rg]!.num_rows);
    const pages = pathL!.pages;
    const pathC = new ScalarCursor(pathL!);
    const pvC = new RepeatedCursor(keyL!, valL!);
    const stC = new ScalarCursor(stL!);
    const dvC = new ScalarCursor(dvL!);
    const offC = new ScalarCursor(offL!);
    let present = 0;
    const setValue = (k: unknown, v: unknown) => {
      const i = replay.columnOf(stringOrNull(k, file, 'add.partitionValues.key') ?? '');
      if (i < 0) {
        // A key of a column the table is not partitioned by refuses the file (LogReplay.tupleOf).
        if (width > 0) present = Number.NEGATIVE_INFINITY;
        return;
      }
      const value = stringOrNull(v, file, 'add.partitionValues.value');
      values[i] = value === '' ? null : value;
      if (!named[i]) present++;
      named[i] = 1;
    };
    const slices = new WorkSlices(ROW_SLICE, FIRST_ROW_SLICE);
    // What the last row cost, in rows of an ordinary path: a path is decoded, hashed and compared.
    let cost = 1;
    for (let r = 0; r < rows; r++) {
      // Let other requests (and the next row group's read) run while this one is walked.
      if (slices.spend(cost)) await yieldToEventLoop();
      // Streamed: true when present (bytes in pages), else a string or null.
      const path = pages ? pages.next() : stringOrNull(pathC.next(), file, 'add.path');
      const pathChars = pages
        ? path
          ? pages.end - pages.start
          : 0
        : typeof path === 'string'
          ? path.length
          : 0;
      cost = 1 + pathChars / ROW_PATH_CHARS;
      values.fill(null);
      named.fill(0);
      present = 0;
      pvC.next(setValue);
      const st = stC.next();
      const dvp = dvC.next();
      const off = offC.next();
      if (path === null || path === false) continue;
      const dv: DeletionVectorDescriptor | null =
        typeof st === 'string' && typeof dvp === 'string'
          ? { storageType: st, pathOrInlineDv: dvp, offset: typeof off === 'number' ? off : null }
          : null;
      // A file whose partitionValues lack a partition column (or name another) is refused (see
      // LogReplay.tupleOf), also over another add of it in this checkpoint.
      const tuple = present < width ? NO_TUPLE : replay.tupleOfValues(values);
      if (pages) replay.addEncoded(pages.bytes, pages.start, pages.end, tuple, dv);
      else if (typeof path === 'string') replay.add(path, tuple, dv);
    }
  }
}
