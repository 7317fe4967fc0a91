/**
 * The table of the test/access/dv-*.test.ts files: EU file a and US file b keep their deletion
 * vectors in one shared deletion-vector file, which a caller may read only while every owner the
 * log still knows is in a partition it was granted. Grants: `eu` (EU only) and `all` (the table).
 */
import { dvFile, TableRoot } from '../../lambda/delta/table-root';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import type { MemoryDeltaStorage } from './delta-memory-storage';
import { addAction, DV_ENABLED, dvProtocol, metaData, removeAction, sharedVector } from './log-text';

export const DAY = 86_400_000;
export const DV_META = metaData(['region'], { configuration: DV_ENABLED });
export const SHARED_DV_FILE = dvFile(new TableRoot('s3://bkt/t'), sharedVector(1))!.relPath!;

export const EU_AND_ALL = [
  { principal: 'eu', table: 't', partitions: [{ region: 'EU' }] },
  { principal: 'all', table: 't', partitions: [{}] },
];

/** EU a, its vector in the shared file (again, when added anew). */
export const addA = () =>
  addAction('region=EU/a.parquet', { region: 'EU' }, { deletionVector: sharedVector(1) });

/** Version 0: protocol, metadata, and both owners of the shared file. */
export const TWO_OWNERS = [
  dvProtocol,
  DV_META,
  addA(),
  addAction('region=US/b.parquet', { region: 'US' }, { deletionVector: sharedVector(20) }),
];

/** The bodies of a, b and the shared file, so that reads reach the authorizer's decision alone. */
export function putBodies(s: MemoryDeltaStorage): MemoryDeltaStorage {
  return s
    .put('region=EU/a.parquet', 'EU!!')
    .put('region=US/b.parquet', 'US!!')
    .put(SHARED_DV_FILE, 'VECTORS OF EU AND US');
}

/** A checkpoint at `version` holding EU a alone (tombstones dropped, as writers drop expired ones). */
export async function checkpointOfA(s: MemoryDeltaStorage, version: number, withA = true): Promise<void> {
  await writeCheckpoint(
    { put: async (rel, bytes) => void s.put(rel, bytes) },
    version,
    dvProtocol.protocol,
    DV_META.metaData,
    withA
      ? [
          {
            path: 'region=EU/a.parquet',
            partitionValues: { region: 'EU' },
            size: 1,
            modificationTime: 0,
            dataChange: false,
          },
        ]
      : [],
  );
}

/** US b removed at `at`, its vector with it. */
export const removeB = (at: number) =>
  removeAction('region=US/b.parquet', {
    partitionValues: { region: 'US' },
    deletionTimestamp: at,
    deletionVector: sharedVector(20),
  });
