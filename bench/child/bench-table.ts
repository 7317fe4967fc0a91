/**
 * The synthetic bench tables' actions (bench/snapshot.ts, bench/history.ts): files in two
 * partition columns (420 partitions over date × region) with ~150 B of stats each, and the
 * tables' metaData.
 */
import { type AddFile, logPathOf, type MetaData } from '../../lambda/local/delta-writer';

/** Creation time of the tables, and file i's modification time less i. */
export const BENCH_T0 = 1_700_000_000_000;

/**
 * File i with the given uuid in its name; kind 'cdc' puts it under `_change_data/`. The rest is a
 * function of i alone, so a later commit can remove file i by path when its uuid is too.
 */
export function benchAdd(i: number, uuid: string, kind: 'part' | 'cdc' = 'part'): AddFile {
  const date = `2024-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`;
  const region = `region-${i % 10}`;
  const stats =
    `{"numRecords":${1000 + (i % 5000)},"minValues":{"id":${i * 1000},"ts":"2024-01-01T00:00:00.000Z"},` +
    `"maxValues":{"id":${i * 1000 + 999},"ts":"2024-12-31T23:59:59.999Z"},"nullCount":{"id":0,"ts":0}}`;
  const folder = `${kind === 'cdc' ? '_change_data/' : ''}date=${date}/region=${region}/`;
  return {
    path: logPathOf(`${folder}${kind}-${String(i % 100000).padStart(5, '0')}-${uuid}.c000.snappy.parquet`),
    partitionValues: { date, region },
    size: 100_000 + i,
    modificationTime: BENCH_T0 + i,
    dataChange: true,
    stats,
  };
}

/** The tables' metaData: id, ts, date, region; partitioned by date and region. */
export function benchMetaData(id: string, configuration: Record<string, string> = {}): MetaData {
  return {
    id,
    format: { provider: 'parquet', options: {} },
    schemaString: JSON.stringify({
      type: 'struct',
      fields: [
        { name: 'id', type: 'long', nullable: true, metadata: {} },
        { name: 'ts', type: 'timestamp', nullable: true, metadata: {} },
        { name: 'date', type: 'date', nullable: true, metadata: {} },
        { name: 'region', type: 'string', nullable: true, metadata: {} },
      ],
    }),
    partitionColumns: ['date', 'region'],
    configuration,
    createdTime: BENCH_T0,
  };
}
