/**
 * A small Delta table writer for fixtures, the demo table and the benchmark: real Parquet data
 * files (hyparquet-writer), Hive-style partition folders, JSON commits (protocol, metaData,
 * add/remove, commitInfo) and classic checkpoints with `_last_checkpoint`. Writes into a
 * directory or through a `put(relPath, bytes)` callback (e.g. an S3 PutObject).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ByteWriter, ParquetWriter, parquetWriteBuffer } from 'hyparquet-writer';
import { HIVE_NULL_PARTITION } from '../access/partition-value';

/** hyparquet-writer bundles its own hyparquet: use its SchemaElement type. */
type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]['schema'][number];
type WriterOptions = ConstructorParameters<typeof ParquetWriter>[0];
/** A checkpoint's page codec, and the compressors hyparquet-writer lacks for it. */
export type CheckpointPages = Pick<WriterOptions, 'codec' | 'compressors'>;

export interface DeltaWriterTarget {
  put(relPath: string, bytes: Uint8Array): Promise<void>;
}

export function directoryTarget(dir: string): DeltaWriterTarget {
  return {
    async put(relPath, bytes) {
      const file = path.join(dir, ...relPath.split('/'));
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, bytes);
    },
  };
}

export type DeltaPrimitive = 'string' | 'long' | 'integer' | 'double' | 'boolean' | 'timestamp' | 'date';

export interface DeltaField {
  name: string;
  type: DeltaPrimitive;
  nullable?: boolean;
}

export type PartitionValues = Record<string, string | null>;

/** An `add` action as written to the log (path percent-encoded, relative to the table root). */
export interface AddFile {
  path: string;
  partitionValues: PartitionValues;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  stats?: string;
}

/** A `remove` action (a tombstone in checkpoints until VACUUM's retention has passed). */
export interface RemoveFile {
  path: string;
  deletionTimestamp: number;
  /** Left out (no extendedFileMetadata) as old writers did. */
  partitionValues?: PartitionValues;
  size?: number;
}

export interface Protocol {
  minReaderVersion: number;
  minWriterVersion: number;
  readerFeatures?: string[];
  writerFeatures?: string[];
}

export interface MetaData {
  id: string;
  name?: string;
  format: { provider: string; options: Record<string, string> };
  schemaString: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
  createdTime: number;
}

export interface DeltaTableWriterOptions {
  schema: DeltaField[];
  partitionColumns?: string[];
  name?: string;
  configuration?: Record<string, string>;
  protocol?: Protocol;
  now?: () => number;
}

const ENGINE = 'delta-lake-s3-proxy fixture writer';

export function logFileName(version: number): string {
  return `_delta_log/${String(version).padStart(20, '0')}.json`;
}

/** Spark's escapePathName: characters that cannot appear in a Hive partition folder name. */
export function escapeHivePathName(v: string): string {
  let out = '';
  for (const ch of v) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c === 0x7f || '"#%\'*/:=?\\{[]^'.includes(ch)) {
      out += `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
    } else out += ch;
  }
  return out;
}

/** The folder of a partition (e.g. "date=2024-01-01/region=eu/"), nulls as __HIVE_DEFAULT_PARTITION__. */
export function partitionFolder(columns: readonly string[], values: PartitionValues): string {
  return columns
    .map(
      (c) =>
        `${escapeHivePathName(c)}=${values[c] == null || values[c] === '' ? HIVE_NULL_PARTITION : escapeHivePathName(values[c]!)}/`,
    )
    .join('');
}

/** A storage-relative path as it is written in `add.path` (a percent-encoded URI reference). */
export function logPathOf(relPath: string): string {
  return encodeURI(relPath);
}

export class DeltaTableWriter {
  version = -1;
  readonly protocol: Protocol;
  readonly metaData: MetaData;
  private readonly active = new Map<string, AddFile>();
  /** Removes so far: a checkpoint carries them as tombstones, as Spark's does. */
  private readonly tombstones: RemoveFile[] = [];
  private readonly now: () => number;
  private fileSeq = 0;

  constructor(
    private readonly target: DeltaWriterTarget,
    private readonly opts: DeltaTableWriterOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.protocol = opts.protocol ?? { minReaderVersion: 1, minWriterVersion: 2 };
    this.metaData = {
      id: randomUUID(),
      ...(opts.name ? { name: opts.name } : {}),
      format: { provider: 'parquet', options: {} },
      schemaString: JSON.stringify({
        type: 'struct',
        fields: opts.schema.map((f) => ({
          name: f.name,
          type: f.type,
          nullable: f.nullable ?? true,
          metadata: {},
        })),
      }),
      partitionColumns: opts.partitionColumns ?? [],
      configuration: opts.configuration ?? {},
      createdTime: this.now(),
    };
  }

  /** Version 0: protocol and metaData, plus any files given. */
  async create(adds: AddFile[] = []): Promise<number> {
    if (this.version !== -1) throw new Error('table already created');
    return this.writeCommit(
      'CREATE TABLE',
      [{ protocol: this.protocol }, { metaData: this.metaData }],
      adds,
      [],
    );
  }

  /** Writes one Parquet data file for a partition; commit the returned action to make it live. */
  async writeDataFile(
    partitionValues: PartitionValues,
    rows: Record<string, unknown>[],
    under = '',
    prefix = 'part',
  ): Promise<AddFile> {
    const partCols = this.metaData.partitionColumns;
    const dataFields = this.opts.schema.filter((f) => !partCols.includes(f.name));
    const columnData = dataFields.map((f) => ({
      name: f.name,
      data: rows.map((r) => toParquetValue(f.type, r[f.name])),
      type: BASIC[f.type],
      nullable: f.nullable ?? true,
    }));
    const bytes = new Uint8Array(parquetWriteBuffer({ columnData }));
    const rel = `${under}${partitionFolder(partCols, partitionValues)}${prefix}-${String(this.fileSeq++).padStart(5, '0')}-${randomUUID()}.c000.snappy.parquet`;
    await this.target.put(rel, bytes);
    return {
      path: logPathOf(rel),
      partitionValues: Object.fromEntries(partCols.map((c) => [c, partitionValues[c] ?? null])),
      size: bytes.byteLength,
      modificationTime: this.now(),
      dataChange: true,
      stats: JSON.stringify(statsOf(dataFields, rows)),
    };
  }

  /**
   * One commit: adds, removes (by log path) and change-data files (`cdc` actions, see
   * writeChangeDataFile).
   */
  async commit(change: {
    add?: AddFile[];
    remove?: string[];
    cdc?: AddFile[];
    operation?: string;
    /** Removes (and their checkpoint tombstones) without partition values, as old writers wrote them. */
    removesWithoutPartitionValues?: boolean;
  }): Promise<number> {
    if (this.version === -1) throw new Error('create the table first');
    const cdc = (change.cdc ?? []).map((c) => ({
      cdc: { path: c.path, partitionValues: c.partitionValues, size: c.size, dataChange: false },
    }));
    return this.writeCommit(
      change.operation ?? 'WRITE',
      cdc,
      change.add ?? [],
      change.remove ?? [],
      change.removesWithoutPartitionValues === true,
    );
  }

  /** A change-data file under `_change_data/<partition folders>/`, for commit({ cdc }). */
  async writeChangeDataFile(
    partitionValues: PartitionValues,
    rows: Record<string, unknown>[],
  ): Promise<AddFile> {
    const a = await this.writeDataFile(partitionValues, rows, '_change_data/', 'cdc');
    return { ...a, dataChange: false };
  }

  activeFiles(): AddFile[] {
    return [...this.active.values()];
  }

  /** A classic checkpoint of the current version, then `_last_checkpoint` pointing at it. */
  async checkpoint(): Promise<void> {
    const info = await writeCheckpoint(
      this.target,
      this.version,
      this.protocol,
      this.metaData,
      this.activeFiles(),
      { removes: this.tombstones },
    );
    await writeLastCheckpoint(this.target, info);
  }

  private async writeCommit(
    operation: string,
    head: object[],
    adds: AddFile[],
    removes: string[],
    legacyRemoves = false,
  ): Promise<number> {
    const version = this.version + 1;
    const ts = this.now();
    const lines: object[] = [
      {
        commitInfo: {
          timestamp: ts,
          operation,
          operationParameters: {},
          engineInfo: ENGINE,
          isBlindAppend: removes.length === 0,
        },
      },
      ...head,
    ];
    for (const p of removes) {
      const a = this.active.get(p);
      if (!a) throw new Error(`cannot remove ${p}: not an active file`);
      lines.push({
        remove: legacyRemoves
          ? { path: p, deletionTimestamp: ts, dataChange: true }
          : {
              path: p,
              deletionTimestamp: ts,
              dataChange: true,
              extendedFileMetadata: true,
              partitionValues: a.partitionValues,
              size: a.size,
            },
      });
    }
    for (const a of adds) lines.push({ add: a });
    await this.target.put(
      logFileName(version),
      new TextEncoder().encode(`${lines.map((l) => JSON.stringify(l)).join('\n')}\n`),
    );
    for (const p of removes) {
      const a = this.active.get(p)!;
      this.tombstones.push({
        path: p,
        deletionTimestamp: ts,
        ...(legacyRemoves ? {} : { partitionValues: a.partitionValues, size: a.size }),
      });
      this.active.delete(p);
    }
    for (const a of adds) this.active.set(a.path, a);
    this.version = version;
    return version;
  }
}

const BASIC = {
  string: 'STRING',
  long: 'INT64',
  integer: 'INT32',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  timestamp: 'TIMESTAMP',
  date: 'STRING',
} as const;

function toParquetValue(type: DeltaPrimitive, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (type === 'long') return BigInt(v as number | bigint);
  if (type === 'timestamp') return v instanceof Date ? v : new Date(v as string | number);
  return v;
}

function statsOf(fields: DeltaField[], rows: Record<string, unknown>[]) {
  const minValues: Record<string, unknown> = {};
  const maxValues: Record<string, unknown> = {};
  const nullCount: Record<string, number> = {};
  for (const f of fields) {
    const vs = rows.map((r) => r[f.name]).filter((v) => v !== null && v !== undefined);
    nullCount[f.name] = rows.length - vs.length;
    if (!vs.length || f.type === 'boolean') continue;
    const norm = vs.map((v) => (f.type === 'timestamp' ? new Date(v as string).toISOString() : v)) as (
      | string
      | number
    )[];
    const sorted = [...norm].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    minValues[f.name] = sorted[0];
    maxValues[f.name] = sorted[sorted.length - 1];
  }
  return { numRecords: rows.length, minValues, maxValues, nullCount };
}

// ---------- checkpoints ----------

const opt = { repetition_type: 'OPTIONAL' } as const;
const str = (name: string): SchemaElement => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', ...opt });
const i64 = (name: string): SchemaElement => ({ name, type: 'INT64', ...opt });
const i32 = (name: string): SchemaElement => ({ name, type: 'INT32', ...opt });
const bool = (name: string): SchemaElement => ({ name, type: 'BOOLEAN', ...opt });
const struct = (name: string, children: SchemaElement[][]): SchemaElement[] => [
  { name, ...opt, num_children: children.length },
  ...children.flat(),
];
const stringMap = (name: string): SchemaElement[] => [
  { name, ...opt, converted_type: 'MAP', num_children: 1 },
  { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
  { name: 'key', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  str('value'),
];
const stringList = (name: string): SchemaElement[] => [
  { name, ...opt, converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  str('element'),
];

/** The classic (V1 spec) checkpoint schema: add (with stats), remove, metaData, protocol. */
export const CHECKPOINT_SCHEMA: SchemaElement[] = [
  { name: 'spark_schema', num_children: 4 },
  ...struct('add', [
    [str('path')],
    stringMap('partitionValues'),
    [i64('size')],
    [i64('modificationTime')],
    [bool('dataChange')],
    [str('stats')],
  ]),
  ...struct('remove', [
    [str('path')],
    [i64('deletionTimestamp')],
    [bool('dataChange')],
    [bool('extendedFileMetadata')],
    stringMap('partitionValues'),
    [i64('size')],
  ]),
  ...struct('metaData', [
    [str('id')],
    [str('name')],
    [str('description')],
    struct('format', [[str('provider')], stringMap('options')]),
    [str('schemaString')],
    stringList('partitionColumns'),
    stringMap('configuration'),
    [i64('createdTime')],
  ]),
  ...struct('protocol', [
    [i32('minReaderVersion')],
    [i32('minWriterVersion')],
    stringList('readerFeatures'),
    stringList('writerFeatures'),
  ]),
];

export interface CheckpointInfo {
  version: number;
  path: string;
  size: number;
  sizeInBytes: number;
  numOfAddFiles: number;
}

/**
 * Writes `NNN.checkpoint.parquet` from any number of adds (an iterable, so a million-file
 * checkpoint streams through in row groups of `rowGroupSize`).
 */
export async function writeCheckpoint(
  target: DeltaWriterTarget,
  version: number,
  protocol: Protocol,
  metaData: MetaData,
  adds: Iterable<AddFile>,
  opts: {
    rowGroupSize?: number;
    removes?: Iterable<RemoveFile>;
    /** Page codec (default SNAPPY). */
    pages?: CheckpointPages;
  } = {},
): Promise<CheckpointInfo> {
  const rowGroupSize = opts.rowGroupSize ?? 100_000;
  const writer = new ByteWriter();
  const pw = new ParquetWriter({ writer, schema: CHECKPOINT_SCHEMA, createdBy: ENGINE, ...opts.pages });
  let rows: { add: unknown; remove?: unknown; metaData: unknown; protocol: unknown }[] = [
    { add: null, metaData: checkpointMetaData(metaData), protocol: null },
    { add: null, metaData: null, protocol: checkpointProtocol(protocol) },
  ];
  let numOfAddFiles = 0;
  let total = 0;
  const flush = () => {
    if (!rows.length) return;
    pw.write({
      columnData: [
        { name: 'add', data: rows.map((r) => r.add) },
        { name: 'remove', data: rows.map((r) => r.remove ?? null) },
        { name: 'metaData', data: rows.map((r) => r.metaData) },
        { name: 'protocol', data: rows.map((r) => r.protocol) },
      ],
      rowGroupSize,
    });
    total += rows.length;
    rows = [];
  };
  for (const a of adds) {
    rows.push({
      add: {
        path: a.path,
        partitionValues: a.partitionValues,
        size: BigInt(a.size),
        modificationTime: BigInt(a.modificationTime),
        dataChange: false,
        stats: a.stats ?? null,
      },
      metaData: null,
      protocol: null,
    });
    numOfAddFiles++;
    if (rows.length >= rowGroupSize) flush();
  }
  for (const r of opts.removes ?? []) {
    rows.push({
      add: null,
      remove: {
        path: r.path,
        deletionTimestamp: BigInt(r.deletionTimestamp),
        dataChange: false,
        extendedFileMetadata: r.partitionValues !== undefined,
        partitionValues: r.partitionValues ?? null,
        size: BigInt(r.size ?? 0),
      },
      metaData: null,
      protocol: null,
    });
    if (rows.length >= rowGroupSize) flush();
  }
  flush();
  pw.finish();
  const bytes = writer.getBytes();
  const rel = `_delta_log/${String(version).padStart(20, '0')}.checkpoint.parquet`;
  await target.put(rel, bytes);
  return { version, path: rel, size: total, sizeInBytes: bytes.byteLength, numOfAddFiles };
}

export async function writeLastCheckpoint(target: DeltaWriterTarget, info: CheckpointInfo): Promise<void> {
  const body = {
    version: info.version,
    size: info.size,
    sizeInBytes: info.sizeInBytes,
    numOfAddFiles: info.numOfAddFiles,
  };
  await target.put('_delta_log/_last_checkpoint', new TextEncoder().encode(JSON.stringify(body)));
}

function checkpointMetaData(m: MetaData) {
  return {
    id: m.id,
    name: m.name ?? null,
    description: null,
    format: m.format,
    schemaString: m.schemaString,
    partitionColumns: m.partitionColumns,
    configuration: m.configuration,
    createdTime: BigInt(m.createdTime),
  };
}

function checkpointProtocol(p: Protocol) {
  return {
    minReaderVersion: p.minReaderVersion,
    minWriterVersion: p.minWriterVersion,
    readerFeatures: p.readerFeatures ?? null,
    writerFeatures: p.writerFeatures ?? null,
  };
}
