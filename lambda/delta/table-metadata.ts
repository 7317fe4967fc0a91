/**
 * The table's `protocol` and `metaData` actions, and what the proxy derives from them: the
 * partition columns (logical name for grants, physical name for `partitionValues`, Delta type)
 * and the reader features it does not understand.
 */
import type { PartitionColumn } from './snapshot-view';

export interface TableProtocol {
  minReaderVersion: number;
  minWriterVersion?: number;
  readerFeatures?: readonly string[] | null;
  writerFeatures?: readonly string[] | null;
}

export interface TableMetadata {
  id?: string;
  schemaString: string;
  partitionColumns: readonly string[];
  configuration: Readonly<Record<string, string>>;
}

/**
 * Reader features whose effect on the *set of files* we implement: column mapping (physical
 * partition keys), deletion vectors (DV files), timestamp without time zone (partition value
 * form), v2 checkpoints (sidecars); and vacuumProtocolCheck, which by the protocol asks nothing
 * of readers (it only makes VACUUM check the protocol; Databricks sets it on new tables).
 * Anything else may change which files make up the table
 * (e.g. catalog-managed commits that are not in `_delta_log/`), so it is refused, not guessed.
 */
export const SUPPORTED_READER_FEATURES: ReadonlySet<string> = new Set([
  'columnMapping',
  'deletionVectors',
  'timestampNtz',
  'v2Checkpoint',
  'vacuumProtocolCheck',
]);

export const MAX_READER_VERSION = 3;

/**
 * Reader-writer features other than the supported ones (delta-io/delta TableFeature.scala,
 * delta-kernel-rs TableFeature). A reader counts such a feature as supported when *either* list
 * names it (Spark's isFeatureSupported), at any reader version, so it is looked for in both.
 * Unknown names found only in `writerFeatures` are writer-only (PROTOCOL.md "Table Features").
 */
const OTHER_READER_WRITER_FEATURES: ReadonlySet<string> = new Set([
  'catalogManaged',
  'catalogOwned-preview',
  'typeWidening',
  'typeWidening-preview',
  'variantType',
  'variantType-preview',
  'variantShredding',
  'variantShredding-preview',
  'adaptiveMetadata-preview',
  'geospatial',
  'geospatial-dev',
  'redirectReaderWriter-preview',
]);

/**
 * What keeps the proxy from reading the table as every reader does: reader features it does not
 * implement, and (given the metaData) a column mapping that readers apply differently.
 */
export function unsupportedReaderFeatures(p: TableProtocol | undefined, meta?: TableMetadata): string[] {
  if (!p) return [];
  if (!Number.isInteger(p.minReaderVersion) || p.minReaderVersion > MAX_READER_VERSION) {
    return [`minReaderVersion=${p.minReaderVersion}`];
  }
  const reader = featureList(p.readerFeatures);
  const writer = featureList(p.writerFeatures);
  if (reader === undefined) return ['readerFeatures (not a list of names)'];
  if (writer === undefined) return ['writerFeatures (not a list of names)'];
  const out = reader.filter((f) => !SUPPORTED_READER_FEATURES.has(f));
  for (const f of writer) if (OTHER_READER_WRITER_FEATURES.has(f) && !out.includes(f)) out.push(f);
  if (meta && columnMappingDisputed(p, reader, writer, meta)) {
    out.push(`columnMapping (delta.columnMapping.mode=${meta.configuration['delta.columnMapping.mode']})`);
  }
  return out;
}

/**
 * Do readers key this table's partition values differently? PROTOCOL.md honours
 * `delta.columnMapping.mode` only with reader version 2, or 3 with the columnMapping feature, and
 * kernel does so (spelled exactly: "name", "id"); Spark keys partition values by a field's
 * `delta.columnMapping.physicalName` whenever the schema has one, whatever the mode and the
 * protocol (DeltaColumnMapping.getPhysicalName in TahoeFileIndex.getPartitionValuesRow). Where
 * kernel does not map and a partition column's physical name is not its logical one, Spark and
 * kernel put the same file in different partitions: no answer is right.
 */
function columnMappingDisputed(
  p: TableProtocol,
  reader: readonly string[],
  writer: readonly string[],
  meta: TableMetadata,
): boolean {
  const mode = meta.configuration['delta.columnMapping.mode'];
  const supported =
    p.minReaderVersion === 2 ||
    (p.minReaderVersion === 3 && (reader.includes('columnMapping') || writer.includes('columnMapping')));
  if (supported && (mode === 'name' || mode === 'id')) return false; // both map
  const mapped = partitionColumnsOf({ ...meta, configuration: { 'delta.columnMapping.mode': 'name' } });
  return mapped.some((c) => c.physical !== c.logical);
}

/** A protocol's feature list: [] when absent, undefined when it is something else than names. */
function featureList(x: unknown): string[] | undefined {
  if (x === undefined || x === null) return [];
  if (!Array.isArray(x)) return undefined;
  return x.map((f) => (typeof f === 'string' ? f : JSON.stringify(f)));
}

interface SchemaField {
  name: string;
  type: unknown;
  metadata?: Record<string, unknown>;
}

export function columnMappingMode(meta: TableMetadata): 'none' | 'name' | 'id' {
  const m = meta.configuration['delta.columnMapping.mode'];
  return m === 'name' || m === 'id' ? m : 'none';
}

export function partitionColumnsOf(meta: TableMetadata): PartitionColumn[] {
  let fields: SchemaField[] = [];
  try {
    const schema = JSON.parse(meta.schemaString) as { fields?: SchemaField[] };
    // The schema is the log's word too: a field that is not an object is skipped.
    fields = Array.isArray(schema.fields)
      ? schema.fields.filter((f) => typeof f === 'object' && f !== null)
      : [];
  } catch {
    fields = [];
  }
  const mapped = columnMappingMode(meta) !== 'none';
  return meta.partitionColumns.map((logical) => {
    const f = fields.find((x) => x.name === logical);
    const physicalName = f?.metadata?.['delta.columnMapping.physicalName'];
    return {
      logical,
      physical: mapped && typeof physicalName === 'string' ? physicalName : logical,
      type: typeof f?.type === 'string' ? f.type : 'string',
    };
  });
}

/**
 * Same partitioning: the same physical names in the same order, of the same types. A type is part
 * of it: under `p STRING`, "1" and "01" are two partitions, under `p INT` one.
 */
export function sameColumns(a: readonly PartitionColumn[], b: readonly PartitionColumn[]): boolean {
  return (
    a.length === b.length &&
    a.every((c, i) => c.physical === b[i]!.physical && typeKey(c.type) === typeKey(b[i]!.type))
  );
}

/** A type name as compared (writers may space `decimal(10, 2)` differently). */
function typeKey(type: string): string {
  return type.toLowerCase().replace(/\s+/g, '');
}
