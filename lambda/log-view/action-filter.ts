/**
 * One action in, the action a filtered reader may see out (or nothing). File actions (add, remove,
 * cdc) pass only for readable files, with their statistics, paths made relative to the table root
 * and deletion vectors inlined; protocol passes; metaData and commitInfo keep only whitelisted
 * fields; everything else (txn, domainMetadata, checkpointMetadata, sidecar, unknown actions, tags,
 * row-tracking ids) is dropped. Field order is fixed, so the same input always gives the same bytes.
 */
import { isWriterForm } from '../access/partition-value';
import { AddConflicts, type PartitionValues, type PathPartitionLookup } from '../delta/path-partitions';
import { fileKey, type TableRoot } from '../delta/table-root';
import type { DvDescriptor, DvInliner } from './dv-inliner';
import type { TupleClassifier } from './file-grant';
import type { EpochPosition } from './partitioning-epoch';
import type { AddLocator } from './scan-path-partitions';

type Obj = Record<string, unknown>;

export interface ActionFilterContext {
  root: TableRoot;
  classifier: TupleClassifier;
  dv: DvInliner;
  lookup: PathPartitionLookup;
  /**
   * The version's place against the newest partitioning's start (partitioning-epoch.ts): before
   * it no file action is shown, at it no remove (default: after).
   */
  position?: EpochPosition;
  /** The place of a version against that start (`checkpoint`: a checkpoint's); see readableRemoved. */
  positionOf?: (version: number, checkpoint: boolean) => Promise<EpochPosition>;
}

/**
 * Table properties a reader may need (column mapping, deletion vectors, change data, in-commit
 * timestamps, row tracking's materialized column names, retention, checkpoint policy) or that say
 * nothing about data. Any other key (user properties, future `delta.*` keys) is dropped.
 */
const CONFIGURATION_KEYS: ReadonlySet<string> = new Set([
  'delta.appendOnly',
  'delta.checkpointInterval',
  'delta.checkpointPolicy',
  'delta.columnMapping.maxColumnId',
  'delta.columnMapping.mode',
  'delta.dataSkippingNumIndexedCols',
  'delta.dataSkippingStatsColumns',
  'delta.deletedFileRetentionDuration',
  'delta.enableChangeDataFeed',
  'delta.enableDeletionVectors',
  'delta.enableInCommitTimestamps',
  'delta.enableRowTracking',
  'delta.enableTypeWidening',
  'delta.inCommitTimestampEnablementTimestamp',
  'delta.inCommitTimestampEnablementVersion',
  'delta.logRetentionDuration',
  'delta.minReaderVersion',
  'delta.minWriterVersion',
  'delta.rowTracking.materializedRowCommitVersionColumnName',
  'delta.rowTracking.materializedRowIdColumnName',
]);

/** Column metadata a reader never needs that counts rows written anywhere in the table. */
const SCHEMA_METADATA_DROPPED = ['delta.identity.highWaterMark'];

const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

function pick(src: Obj, keys: readonly string[]): Obj {
  const out: Obj = {};
  for (const k of keys) if (src[k] !== undefined) out[k] = src[k];
  return out;
}

const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

export class ActionFilter {
  constructor(private readonly ctx: ActionFilterContext) {}

  /** A path as a filtered reader sees it: relative to the table root; undefined outside it. */
  relativePath(logPath: string): string | undefined {
    const r = this.ctx.root.resolve(logPath);
    if (r.relPath === undefined) return undefined;
    if (!logPath.startsWith('/') && !SCHEME.test(logPath)) return logPath;
    // encodeURI leaves "=" readable (Hive folders); "?", "#" and ":" would end or re-scheme a URI.
    return encodeURI(r.relPath).replace(/[?#:]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  }

  /**
   * Collects the files one log file adds twice with conflicting values (see sameValueMaps), by
   * fileKey: none of their adds is shown, as the snapshot refuses such a file. Undefined in an
   * unpartitioned table, where every add has the one (empty) partition.
   */
  addConflicts(): AddConflicts | undefined {
    if (this.ctx.classifier.grant.columns.length === 0) return undefined;
    return new AddConflicts((p) => this.fileKey(p));
  }

  /** A file as the snapshot keys it: relative to the root, or its external URI. */
  fileKey(logPath: string): string {
    return fileKey(this.ctx.root.resolve(logPath));
  }

  /** `preclassified`: the caller already knows the file is readable (checkpoint fast path). */
  async add(a: Obj, preclassified = false): Promise<Obj | undefined> {
    if (typeof a.path !== 'string' || this.ctx.position === 'before') return undefined;
    if (!preclassified && !this.ctx.classifier.readable(a.partitionValues as PartitionValues))
      return undefined;
    const path = this.relativePath(a.path);
    if (path === undefined) return undefined;
    const out: Obj = {
      path,
      ...pick(a, ['partitionValues', 'size', 'modificationTime', 'dataChange', 'stats']),
    };
    if (out.partitionValues === undefined) out.partitionValues = {};
    if (isObj(a.deletionVector))
      out.deletionVector = await this.ctx.dv.inline(a.deletionVector as unknown as DvDescriptor);
    return out;
  }

  async remove(r: Obj, version: number): Promise<Obj | undefined> {
    if (typeof r.path !== 'string') return undefined;
    if (this.ctx.position === 'before' || this.ctx.position === 'start') return undefined;
    if (!(await this.readableRemoved(r, version))) return undefined;
    const path = this.relativePath(r.path);
    if (path === undefined) return undefined;
    const out: Obj = {
      path,
      ...pick(r, ['deletionTimestamp', 'dataChange', 'extendedFileMetadata', 'partitionValues', 'size']),
    };
    if (isObj(r.deletionVector))
      out.deletionVector = await this.ctx.dv.inline(r.deletionVector as unknown as DvDescriptor);
    return out;
  }

  async cdc(c: Obj): Promise<Obj | undefined> {
    if (typeof c.path !== 'string' || this.ctx.position === 'before') return undefined;
    const pv = isObj(c.partitionValues) ? (c.partitionValues as PartitionValues) : undefined;
    if (!this.ctx.classifier.changeReadable(pv)) return undefined;
    const path = this.relativePath(c.path);
    if (path === undefined) return undefined;
    return { path, ...pick(c, ['partitionValues', 'size', 'dataChange']) };
  }

  /**
   * A remove whose partitionValues do not name exactly the partition columns (none written, Spark
   * 3.3 leaving null values out, a stray key) is classified by the add that introduced its file,
   * so the two agree. An add before the newest partitioning's start is of an older one (the
   * snapshot and history refuse its file, "01" under STRING is not 1 under INT): not shown. Only
   * asked when a metaData lies between the add and the remove, so an unchanged table reads no more.
   */
  private async readableRemoved(r: Obj, version: number): Promise<boolean> {
    const cl = this.ctx.classifier;
    const own = isObj(r.partitionValues) ? (r.partitionValues as PartitionValues) : undefined;
    if (cl.grant.columns.length === 0 || cl.complete(own)) return cl.readable(own);
    const { lookup, positionOf } = this.ctx;
    if (!positionOf || !isLocator(lookup)) {
      const pv = await lookup.partitionValuesAt(r.path as string, version);
      return pv !== undefined && cl.readable(pv);
    }
    const found = await lookup.addAt(r.path as string, version);
    if (found === undefined) return this.readableByTombstone(r.path as string, lookup, positionOf);
    if (!cl.readable(found.values)) return false;
    return !found.metaDataSince || (await positionOf(found.version, found.inCheckpoint)) !== 'before';
  }

  /**
   * A file whose add a log cleanup took: placed, as the history places it, by a checkpoint's
   * tombstone of the file that carries complete values (a deletion-vector DELETE's remove, say,
   * before this remove without them). Its partitioning must be the newest one. Only the complete
   * history reads the oldest checkpoint; the recent one reads the newest and vouches for a
   * tombstone there only in the writers' form of the newest types ("01" for an int may be of an
   * older partitioning under the same names): so does the view.
   */
  private async readableByTombstone(
    path: string,
    lookup: AddLocator,
    positionOf: NonNullable<ActionFilterContext['positionOf']>,
  ): Promise<boolean> {
    const cl = this.ctx.classifier;
    for (const t of await lookup.tombstonesOf(path)) {
      if (!cl.complete(t.values) || !cl.readable(t.values)) continue;
      if (!t.oldest && !writerForm(cl, t.values)) continue;
      if ((await positionOf(t.version, true)) !== 'before') return true;
    }
    return false;
  }
}

/** Every value of a complete map in the one form writers give it under its column's type. */
function writerForm(cl: TupleClassifier, pv: PartitionValues): boolean {
  return cl.grant.columns.every((c) => {
    const v = pv[c.physical];
    return v === null || v === undefined || v === '' || isWriterForm(c.type, v);
  });
}

function isLocator(l: PathPartitionLookup): l is AddLocator {
  return typeof (l as Partial<AddLocator>).addAt === 'function';
}

export function protocolAction(p: Obj): Obj {
  return pick(p, ['minReaderVersion', 'minWriterVersion', 'readerFeatures', 'writerFeatures']);
}

export function metaDataAction(m: Obj): Obj {
  const configuration: Record<string, string> = {};
  if (isObj(m.configuration)) {
    for (const [k, v] of Object.entries(m.configuration)) {
      if (CONFIGURATION_KEYS.has(k) && typeof v === 'string') configuration[k] = v;
    }
  }
  const format = isObj(m.format) && typeof m.format.provider === 'string' ? m.format.provider : 'parquet';
  const out: Obj = {
    ...pick(m, ['id']),
    format: { provider: format, options: {} },
    schemaString: typeof m.schemaString === 'string' ? scrubSchema(m.schemaString) : m.schemaString,
    partitionColumns: Array.isArray(m.partitionColumns) ? m.partitionColumns : [],
    configuration,
  };
  if (m.createdTime !== undefined && m.createdTime !== null) out.createdTime = m.createdTime;
  return out;
}

/** commitInfo: the timestamps and the operation name, in-commit timestamp first. */
export function commitInfoAction(ci: Obj | undefined): Obj {
  return ci ? pick(ci, ['inCommitTimestamp', 'timestamp', 'operation']) : {};
}

/** The schema without column metadata that counts rows (identity high-water marks). */
export function scrubSchema(schemaString: string): string {
  if (!SCHEMA_METADATA_DROPPED.some((k) => schemaString.includes(k))) return schemaString;
  let schema: unknown;
  try {
    schema = JSON.parse(schemaString);
  } catch {
    return schemaString;
  }
  const walk = (t: unknown): void => {
    if (Array.isArray(t)) {
      for (const x of t) walk(x);
      return;
    }
    if (!isObj(t)) return;
    if (isObj(t.metadata)) for (const k of SCHEMA_METADATA_DROPPED) delete t.metadata[k];
    for (const v of Object.values(t)) if (typeof v === 'object') walk(v);
  };
  walk(schema);
  return JSON.stringify(schema);
}
