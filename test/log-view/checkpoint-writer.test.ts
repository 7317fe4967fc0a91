/**
 * The generated checkpoint reads back, with an independent Parquet reader (hyparquet), as exactly
 * the actions written: null and empty partition maps, deletion vectors, tombstones, metaData and
 * protocol, across row groups.
 */
import { describe, expect, it } from 'vitest';
import { CheckpointWriter } from '../../lambda/log-view/checkpoint-writer';
import { mapOf, parquetRows } from '../helpers/virtual-log-replay';

const dv = {
  storageType: 'i',
  pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f55c8Xg0@fTk',
  sizeInBytes: 34,
  cardinality: 2,
};

/** A deletion vector with its fields in one order, numbers as numbers. */
function normDv(d: Record<string, unknown>) {
  return {
    storageType: d.storageType,
    pathOrInlineDv: d.pathOrInlineDv,
    offset: d.offset,
    sizeInBytes: d.sizeInBytes,
    cardinality: Number(d.cardinality),
    maxRowIndex: d.maxRowIndex === null ? null : Number(d.maxRowIndex),
  };
}

describe('the checkpoint writer', () => {
  it('writes what readers read back, across row groups', async () => {
    const w = new CheckpointWriter();
    const adds = Array.from({ length: 20_000 }, (_, i) => ({
      add: {
        path: `a=${i % 3}/f${i}.parquet`,
        partitionValues: i % 7 === 0 ? { a: null, b: 'x' } : i % 11 === 0 ? {} : { a: String(i % 3), b: 'y' },
        size: 1000 + i,
        modificationTime: 1_700_000_000_000 + i,
        dataChange: i % 2 === 0,
        ...(i % 5 === 0 ? { stats: `{"numRecords":${i}}` } : {}),
        ...(i % 13 === 0 ? { deletionVector: dv } : {}),
      },
    }));
    await w.push([
      {
        protocol: {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: ['deletionVectors'],
          writerFeatures: ['deletionVectors'],
        },
      },
      {
        metaData: {
          id: 't',
          format: { provider: 'parquet', options: {} },
          schemaString: '{"type":"struct","fields":[]}',
          partitionColumns: ['a', 'b'],
          configuration: { 'delta.enableDeletionVectors': 'true' },
          createdTime: 5,
        },
      },
      ...adds.slice(0, 10_000),
      {
        remove: {
          path: 'a=1/gone.parquet',
          deletionTimestamp: 9,
          dataChange: false,
          extendedFileMetadata: true,
          partitionValues: { a: '1', b: null },
          size: 3,
          deletionVector: dv,
        },
      },
      ...adds.slice(10_000),
    ]);
    const out = await w.finish();
    expect(out).toMatchObject({ actions: 20_003, adds: 20_000 });
    const rows = await parquetRows(out.bytes);
    expect(rows.length).toBe(20_003);
    const back = rows.filter((r) => r.add).map((r) => r.add as Record<string, unknown>);
    expect(back.length).toBe(20_000);
    const got = back.map((a) => ({
      path: a.path,
      pv: mapOf(a.partitionValues),
      size: Number(a.size),
      mod: Number(a.modificationTime),
      dataChange: a.dataChange,
      stats: a.stats ?? undefined,
      dv: a.deletionVector ? normDv(a.deletionVector as Record<string, unknown>) : undefined,
    }));
    const want = adds.map(({ add: w }) => ({
      path: w.path,
      pv: w.partitionValues,
      size: w.size,
      mod: w.modificationTime,
      dataChange: w.dataChange,
      stats: w.stats,
      dv: w.deletionVector ? normDv({ ...dv, offset: null, maxRowIndex: null }) : undefined,
    }));
    // One comparison for all rows (a per-row expect costs seconds here).
    expect(JSON.stringify(got)).toBe(JSON.stringify(want));
    const remove = rows.find((r) => r.remove)!.remove as Record<string, unknown>;
    expect(mapOf(remove.partitionValues)).toEqual({ a: '1', b: null });
    expect((remove.deletionVector as { pathOrInlineDv: string }).pathOrInlineDv).toBe(dv.pathOrInlineDv);
    const meta = rows.find((r) => r.metaData)!.metaData as Record<string, unknown>;
    expect(meta.partitionColumns).toEqual(['a', 'b']);
    expect(mapOf(meta.configuration)).toEqual({ 'delta.enableDeletionVectors': 'true' });
    expect((rows.find((r) => r.protocol)!.protocol as Record<string, unknown>).readerFeatures).toEqual([
      'deletionVectors',
    ]);
  });
});
