/**
 * Spark keys partition values by a field's `delta.columnMapping.physicalName` whenever the schema
 * carries one (DeltaColumnMapping.getPhysicalName, used by TahoeFileIndex.getPartitionValuesRow
 * and Metadata.physicalPartitionSchema), whatever `delta.columnMapping.mode` says; kernel honours
 * it only in name or id mode. A partitioned table whose schema has a physical name other than the
 * column's own without that mode (stray metadata, e.g. a CTAS from a column-mapped table) puts
 * one file in two partitions: Spark reads `region` from key `col-abc`, kernel from `region`.
 */
import { describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { NO_TUPLE } from '../../lambda/delta/snapshot-view';
import { add, MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';

const tableUri = 's3://bucket/warehouse/t';
const schema = [
  {
    name: 'region',
    type: 'string',
    nullable: true,
    metadata: { 'delta.columnMapping.id': 2, 'delta.columnMapping.physicalName': 'col-abc' },
  },
];

describe('a physical name in the schema without a column mapping mode', () => {
  it('refuses the table: Spark and kernel key its partition values differently', async () => {
    const configurations: Record<string, string>[] = [{}, { 'delta.columnMapping.mode': 'none' }];
    for (const configuration of configurations) {
      const s = new MemoryDeltaStorage().commit(0, [
        protocolV1,
        metaData(['region'], { schema, configuration }),
        add('b.parquet', { region: 'eu' }), // Spark: region is null (no key col-abc); kernel: eu
      ]);
      const snap = await loadSnapshot(s, { tableUri });
      expect(snap.unsupportedReaderFeatures, JSON.stringify(configuration)).not.toEqual([]);
      expect(snap.tupleOf('b.parquet')).toBe(NO_TUPLE);
    }
  });

  it('still reads a table whose stray physical name is the column name itself', async () => {
    const same = [{ ...schema[0]!, metadata: { 'delta.columnMapping.physicalName': 'region' } }];
    const s = new MemoryDeltaStorage().commit(0, [
      protocolV1,
      metaData(['region'], { schema: same }),
      add('b.parquet', { region: 'eu' }),
    ]);
    const snap = await loadSnapshot(s, { tableUri });
    expect(snap.unsupportedReaderFeatures).toEqual([]);
    expect(snap.tupleValues(snap.tupleOf('b.parquet'))).toEqual(['eu']);
  });
});
