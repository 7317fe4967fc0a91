/**
 * Writes a classic single-file checkpoint (`N.checkpoint.parquet`) in the schema Spark writes:
 * add, remove, metaData and protocol as top-level structs, every field optional, maps as a
 * repeated `key_value` group with a required key. No txn, domainMetadata, checkpointMetadata or
 * sidecar column (a classic checkpoint without sidecars is valid for every table, v2Checkpoint
 * ones included), no `partitionValues_parsed` / `stats_parsed` (readers fall back to the JSON
 * `stats` and the string map), and none of the fields the view always drops (tags, row-tracking
 * ids, table name and description): a missing optional field reads as null, and every field left
 * out is one column less to encode for each of a million rows. hyparquet-writer needs the MAP and struct groups declared: given
 * plain objects without a schema it would write them as JSON strings.
 */
import { ParquetWriter } from 'hyparquet-writer';
import { runInSlices, yieldToEventLoop } from '../core/event-loop';
import type { CheckpointRow } from './checkpoint-rows';
import { ChunkedBytes } from './chunked-bytes';
import { ParquetFooter } from './parquet-footer';
import { leavesOf, writeRowGroup } from './row-group-writer';

type SchemaElement = ConstructorParameters<typeof ParquetWriter>[0]['schema'][number];
type Obj = Record<string, unknown>;

const opt = { repetition_type: 'OPTIONAL' } as const;
const str = (name: string): SchemaElement[] => [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', ...opt }];
const i64 = (name: string): SchemaElement[] => [{ name, type: 'INT64', ...opt }];
const i32 = (name: string): SchemaElement[] => [{ name, type: 'INT32', ...opt }];
const bool = (name: string): SchemaElement[] => [{ name, type: 'BOOLEAN', ...opt }];
const struct = (name: string, ...children: SchemaElement[][]): SchemaElement[] => [
  { name, ...opt, num_children: children.length },
  ...children.flat(),
];
const stringMap = (name: string): SchemaElement[] => [
  { name, ...opt, converted_type: 'MAP', num_children: 1 },
  { name: 'key_value', repetition_type: 'REPEATED', num_children: 2 },
  { name: 'key', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'value', type: 'BYTE_ARRAY', converted_type: 'UTF8', ...opt },
];
const stringList = (name: string): SchemaElement[] => [
  { name, ...opt, converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', ...opt },
];
const deletionVector = () =>
  struct(
    'deletionVector',
    str('storageType'),
    str('pathOrInlineDv'),
    i32('offset'),
    i32('sizeInBytes'),
    i64('cardinality'),
    i64('maxRowIndex'),
  );

export const CHECKPOINT_SCHEMA: SchemaElement[] = [
  { name: 'spark_schema', num_children: 4 },
  ...struct(
    'add',
    str('path'),
    stringMap('partitionValues'),
    i64('size'),
    i64('modificationTime'),
    bool('dataChange'),
    deletionVector(),
    str('stats'),
  ),
  ...struct(
    'remove',
    str('path'),
    i64('deletionTimestamp'),
    bool('dataChange'),
    bool('extendedFileMetadata'),
    stringMap('partitionValues'),
    i64('size'),
    deletionVector(),
  ),
  ...struct(
    'metaData',
    str('id'),
    struct('format', str('provider'), stringMap('options')),
    str('schemaString'),
    stringList('partitionColumns'),
    stringMap('configuration'),
    i64('createdTime'),
  ),
  ...struct(
    'protocol',
    i32('minReaderVersion'),
    i32('minWriterVersion'),
    stringList('readerFeatures'),
    stringList('writerFeatures'),
  ),
];

const LEAVES = leavesOf(CHECKPOINT_SCHEMA);

/**
 * Rows per row group. A group is encoded a column chunk at a time, the event loop free between
 * chunks (writeRowGroup), so its size bounds one chunk's work: the longest chunk of 8,192 adds
 * with statistics takes about 25 ms warm, of 16,384 about 80. Smaller groups grow the footer
 * (each group's part is encoded as the group is written: ParquetFooter). The first groups are
 * smaller, doubling, while the JIT has not compiled the encoder yet (the first group of 16,384
 * adds took 850 ms cold).
 */
const ROW_GROUP = 8_192;
const FIRST_ROW_GROUP = 1_024;
/**
 * Characters of paths, statistics and schemas per row group: a column chunk of wide statistics
 * (200 columns, ~20 KB an add) is megabytes at a few hundred rows, and its encoding and
 * compression one call (1,024 such adds: 170-190 ms). Ordinary adds (a few hundred characters)
 * still fill 8,192-row groups.
 */
const ROW_GROUP_CHARS = 4 << 20;

/** The characters a row brings to the group's largest column chunks. */
function charsOf(r: CheckpointRow): number {
  const o = Object.values(r)[0] as Obj;
  let n = 0;
  for (const k of ['path', 'stats', 'schemaString'])
    if (typeof o[k] === 'string') n += (o[k] as string).length;
  return n;
}

export interface WrittenCheckpoint {
  bytes: Uint8Array;
  /** Actions (rows) in the file: `_last_checkpoint.size`. */
  actions: number;
  adds: number;
}

export class CheckpointWriter {
  private readonly out = new ChunkedBytes();
  private readonly pw = new ParquetWriter({
    writer: this.out,
    schema: CHECKPOINT_SCHEMA,
    createdBy: 'delta-lake-s3-proxy filtered log',
    statisticsTruncateLength: 64,
  });
  /** The footer, encoded a row group at a time (hyparquet-writer's finish() does it in one call). */
  private readonly footer = new ParquetFooter(this.pw);
  private rows: CheckpointRow[] = [];
  private groupRows = FIRST_ROW_GROUP;
  /** The characters of the rows waiting (charsOf): a group ends at ROW_GROUP_CHARS too. */
  private groupChars = 0;
  private actions = 0;
  private adds = 0;

  async push(rows: readonly CheckpointRow[]): Promise<void> {
    for (const r of rows) {
      this.rows.push(r);
      this.groupChars += charsOf(r);
      if (this.rows.length >= this.groupRows || this.groupChars >= ROW_GROUP_CHARS) {
        await this.flush();
        this.groupRows = Math.min(ROW_GROUP, this.groupRows * 2);
      }
    }
  }

  async finish(): Promise<WrittenCheckpoint> {
    await this.flush();
    this.footer.finish();
    return { bytes: await this.out.joined(), actions: this.actions, adds: this.adds };
  }

  private async flush(): Promise<void> {
    const rows = this.rows;
    if (!rows.length) return;
    this.rows = [];
    this.groupChars = 0;
    const col = (k: 'add' | 'remove' | 'metaData' | 'protocol', conv: (o: Obj) => Obj) =>
      rows.map((r) => (k in r ? conv((r as Record<string, Obj>)[k]!) : null));
    // No statistics for adds: nothing skips add columns by them, and they cost a pass over every
    // value (min/max of each statistics string). The sparse structs keep them (null counts).
    await runInSlices(
      writeRowGroup(
        this.pw,
        LEAVES,
        {
          add: col('add', addRow),
          remove: col('remove', removeRow),
          metaData: col('metaData', metaDataRow),
          protocol: col('protocol', protocolRow),
        },
        { add: { statistics: false } },
      ),
    );
    // A slice of its own: the group's last one (its all-null leaves) is among its longest.
    await yieldToEventLoop();
    this.footer.addRowGroup(this.pw.row_groups.at(-1)!);
    this.actions += rows.length;
    for (const r of rows) if ('add' in r) this.adds++;
  }
}

const big = (v: unknown): bigint | null =>
  typeof v === 'number' ? BigInt(Math.trunc(v)) : typeof v === 'bigint' ? v : null;
const int = (v: unknown): number | null => (typeof v === 'number' ? v : null);

function dvRow(d: unknown): Obj | null {
  if (typeof d !== 'object' || d === null) return null;
  const o = d as Obj;
  return {
    storageType: o.storageType,
    pathOrInlineDv: o.pathOrInlineDv,
    offset: int(o.offset),
    sizeInBytes: int(o.sizeInBytes),
    cardinality: big(o.cardinality),
    maxRowIndex: big(o.maxRowIndex),
  };
}

function addRow(a: Obj): Obj {
  return {
    path: a.path,
    partitionValues: mapEntries(a.partitionValues),
    size: big(a.size),
    modificationTime: big(a.modificationTime),
    dataChange: a.dataChange === true,
    deletionVector: dvRow(a.deletionVector),
    stats: typeof a.stats === 'string' ? a.stats : null,
  };
}

/** {key, value} entries: the form hyparquet-writer uses as is (an object is converted per column). */
function mapEntries(m: unknown): { key: string; value: unknown }[] {
  if (Array.isArray(m)) return m as { key: string; value: unknown }[];
  const out: { key: string; value: unknown }[] = [];
  if (m && typeof m === 'object') for (const k in m) out.push({ key: k, value: (m as Obj)[k] ?? null });
  return out;
}

function removeRow(r: Obj): Obj {
  return {
    path: r.path,
    deletionTimestamp: big(r.deletionTimestamp),
    dataChange: r.dataChange === true,
    extendedFileMetadata: typeof r.extendedFileMetadata === 'boolean' ? r.extendedFileMetadata : null,
    partitionValues: r.partitionValues ?? null,
    size: big(r.size),
    deletionVector: dvRow(r.deletionVector),
  };
}

function metaDataRow(m: Obj): Obj {
  return {
    id: m.id ?? null,
    format: m.format,
    schemaString: m.schemaString,
    partitionColumns: m.partitionColumns,
    configuration: m.configuration,
    createdTime: big(m.createdTime),
  };
}

function protocolRow(p: Obj): Obj {
  return {
    minReaderVersion: p.minReaderVersion,
    minWriterVersion: p.minWriterVersion ?? null,
    readerFeatures: p.readerFeatures ?? null,
    writerFeatures: p.writerFeatures ?? null,
  };
}
