/**
 * Delta log text for tests that write a log by hand: log file names, commits (one JSON action a
 * line) and the protocol, metaData, add and remove actions with the defaults of a small synthetic
 * table. Names are spelled here rather than taken from lambda/delta/log-path.ts, so that a mistake
 * there cannot hide in both the proxy and its tests.
 */

/** The zero-padded 20-digit version every log file name starts with. */
export const logVersion = (version: number): string => String(version).padStart(20, '0');

/** The name of commit `version` in `_delta_log/`. */
export const commitName = (version: number): string => `${logVersion(version)}.json`;

/** The name of the classic (single-file) checkpoint at `version` in `_delta_log/`. */
export const checkpointName = (version: number): string => `${logVersion(version)}.checkpoint.parquet`;

/** The key of commit `version` below `root` ("" for the table root, "t/" for a table in folder t). */
export const commitKey = (version: number, root = ''): string => `${root}_delta_log/${commitName(version)}`;

/** The key of the classic checkpoint at `version` below `root`. */
export const checkpointKey = (version: number, root = ''): string =>
  `${root}_delta_log/${checkpointName(version)}`;

/** A commit's text: one JSON action a line, the last line ended too. */
export const commitText = (actions: readonly object[]): string =>
  `${actions.map((a) => JSON.stringify(a)).join('\n')}\n`;

/** A protocol action; `features` are both reader and writer features (table features, 3/7). */
export function protocol(minReaderVersion: number, minWriterVersion: number, features?: string[]) {
  return {
    protocol: {
      minReaderVersion,
      minWriterVersion,
      ...(features ? { readerFeatures: features, writerFeatures: features } : {}),
    },
  };
}

export const protocolV1 = protocol(1, 2);
/** What a table with deletion vectors enabled asks of its readers and writers. */
export const dvProtocol = protocol(3, 7, ['deletionVectors']);
/** The metaData configuration of a table with deletion vectors enabled. */
export const DV_ENABLED = { 'delta.enableDeletionVectors': 'true' };

/** A nullable schema field, as schemaString holds it. */
export const field = (name: string, type: string | object) => ({ name, type, nullable: true, metadata: {} });

export interface MetaDataOptions {
  id?: string;
  /** The fields after `v` (default: a string field per partition column). */
  schema?: object[];
  /** Every field of the schema, in place of `v` and `schema`. */
  fields?: object[];
  configuration?: Record<string, string>;
  createdTime?: number;
}

/** A metaData action: by default id "test-table", a `v` long and a string per partition column. */
export function metaData(partitionColumns: string[], options: MetaDataOptions = {}) {
  const fields = options.fields ?? [
    field('v', 'long'),
    ...(options.schema ?? partitionColumns.map((name) => field(name, 'string'))),
  ];
  return {
    metaData: {
      id: options.id ?? 'test-table',
      format: { provider: 'parquet', options: {} },
      schemaString: JSON.stringify({ type: 'struct', fields }),
      partitionColumns,
      configuration: options.configuration ?? {},
      createdTime: options.createdTime ?? 0,
    },
  };
}

export interface AddFields {
  size?: number;
  modificationTime?: number;
  dataChange?: boolean;
  deletionVector?: object;
}

/** An add action (size 1, modified at 0, a data change) with `fields` over those defaults. */
export function addAction(
  path: string,
  partitionValues: Record<string, string | null> = {},
  fields: AddFields = {},
) {
  return { add: { path, partitionValues, size: 1, modificationTime: 0, dataChange: true, ...fields } };
}

/** An add action, with a deletion vector when one is given. */
export function add(
  path: string,
  partitionValues: Record<string, string | null> = {},
  deletionVector?: object,
) {
  return addAction(path, partitionValues, deletionVector ? { deletionVector } : {});
}

export interface RemoveFields {
  /** Left out unless given, as old writers did. */
  partitionValues?: Record<string, string | null>;
  deletionTimestamp?: number;
  dataChange?: boolean;
  deletionVector?: object;
}

/** A remove action (deleted at 0, a data change) with `fields` over those defaults. */
export function removeAction(path: string, fields: RemoveFields = {}) {
  const { partitionValues, ...rest } = fields;
  return {
    remove: {
      path,
      ...(partitionValues ? { partitionValues } : {}),
      deletionTimestamp: 0,
      dataChange: true,
      ...rest,
    },
  };
}

/** A remove action without partition values, with a deletion vector when one is given. */
export function remove(path: string, deletionVector?: object) {
  return removeAction(path, deletionVector ? { deletionVector } : {});
}

/**
 * A relative (`u`) deletion vector at `offset` in a file under the random prefix folder "ab/": Spark
 * packs a task's vectors into one such file, so files of several partitions may share it.
 */
export const sharedVector = (offset: number) => ({
  storageType: 'u',
  pathOrInlineDv: 'ab^-aqEH.-t@S}K{vb[*k^',
  sizeInBytes: 10,
  cardinality: 1,
  offset,
});

/** A path-based (`p`) deletion vector at the absolute URI `uri`. */
export const pathVector = (uri: string) => ({
  storageType: 'p',
  pathOrInlineDv: uri,
  offset: 1,
  sizeInBytes: 10,
  cardinality: 1,
});
