/**
 * One commit through the filter: what a filtered reader keeps, loses and gets rewritten. The
 * corpus suite checks real tables end to end; these pin the rules on hand-written actions.
 */
import { describe, expect, it } from 'vitest';
import { fileGrantOf } from '../../lambda/access/file-grant';
import { TableRoot } from '../../lambda/delta/table-root';
import { z85Decode } from '../../lambda/delta/z85';
import { ActionFilter } from '../../lambda/log-view/action-filter';
import { DvInliner } from '../../lambda/log-view/dv-inliner';
import { TupleClassifier } from '../../lambda/log-view/file-grant';
import { filterCommit } from '../../lambda/log-view/filtered-commit';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';

const COLUMNS = [{ logical: 'region', physical: 'col-r', type: 'string' }];
const ROOT = 's3://bucket/tables/sales';

function filterFor(
  grant: Record<string, string | null>[],
  lookup: Record<string, Record<string, string>> = {},
) {
  const storage = new MemoryDeltaStorage();
  const root = new TableRoot(ROOT);
  const asked: string[] = [];
  return {
    asked,
    filter: new ActionFilter({
      root,
      classifier: new TupleClassifier(fileGrantOf(COLUMNS, grant)),
      dv: new DvInliner(storage, root),
      lookup: {
        async partitionValuesAt(path, version) {
          asked.push(`${path}@${version}`);
          return lookup[path];
        },
      },
    }),
  };
}

async function run(actions: object[], grant: Record<string, string | null>[], lookup = {}) {
  const { filter, asked } = filterFor(grant, lookup);
  const text = actions.map((a) => JSON.stringify(a)).join('\n');
  const out = new TextDecoder().decode(await filterCommit(text, '00000000000000000007.json', 7, filter));
  return {
    lines: out
      .trimEnd()
      .split('\n')
      // biome-ignore lint/suspicious/noExplicitAny: the test reads parsed JSON freely
      .map((l) => JSON.parse(l) as Record<string, any>),
    asked,
    out,
  };
}

const eu = (path: string) => ({
  path,
  partitionValues: { 'col-r': 'EU' },
  size: 10,
  modificationTime: 1,
  dataChange: true,
});
const us = (path: string) => ({
  path,
  partitionValues: { 'col-r': 'US' },
  size: 20,
  modificationTime: 2,
  dataChange: true,
});

describe('a filtered commit', () => {
  it('keeps only readable files, with their statistics, and scrubs commitInfo to its timestamps and operation, first', async () => {
    const { lines, out } = await run(
      [
        {
          add: {
            ...eu('col-r=EU/a.parquet'),
            stats: '{"numRecords":3}',
            tags: { INSERTION_TIME: '1' },
            baseRowId: 40,
          },
        },
        { add: us('col-r=US/b.parquet') },
        {
          commitInfo: {
            timestamp: 5,
            inCommitTimestamp: 6,
            operation: 'WRITE',
            operationParameters: { predicate: "region = 'US'" },
            operationMetrics: { numOutputRows: '99' },
            userName: 'someone',
          },
        },
        {
          cdc: {
            path: '_change_data/col-r=US/c.parquet',
            partitionValues: { 'col-r': 'US' },
            size: 1,
            dataChange: false,
          },
        },
        {
          cdc: {
            path: '_change_data/col-r=EU/d.parquet',
            partitionValues: { 'col-r': 'EU' },
            size: 1,
            dataChange: false,
          },
        },
      ],
      [{ region: 'EU' }],
    );
    expect(lines).toEqual([
      { commitInfo: { inCommitTimestamp: 6, timestamp: 5, operation: 'WRITE' } },
      { add: { ...eu('col-r=EU/a.parquet'), stats: '{"numRecords":3}' } },
      {
        cdc: {
          path: '_change_data/col-r=EU/d.parquet',
          partitionValues: { 'col-r': 'EU' },
          size: 1,
          dataChange: false,
        },
      },
    ]);
    expect(Object.keys(lines[0]!.commitInfo)[0]).toBe('inCommitTimestamp');
    expect(out).not.toContain('US');
  });

  it('keeps an empty commit as one commitInfo line, and drops txn, domainMetadata and unknown actions', async () => {
    const { lines } = await run(
      [
        { commitInfo: { timestamp: 1, operation: 'DELETE', operationParameters: { predicate: 'x' } } },
        { txn: { appId: 'stream-7', version: 12 } },
        {
          domainMetadata: {
            domain: 'delta.rowTracking',
            configuration: '{"rowIdHighWaterMark":999}',
            removed: false,
          },
        },
        { somethingNew: { a: 1 } },
        { remove: { ...us('col-r=US/b.parquet'), deletionTimestamp: 3 } },
      ],
      [{ region: 'EU' }],
    );
    expect(lines).toEqual([{ commitInfo: { timestamp: 1, operation: 'DELETE' } }]);
  });

  it('whitelists metaData: table properties readers need, no name or description, no identity high-water mark', async () => {
    const schema = {
      type: 'struct',
      fields: [
        {
          name: 'id',
          type: 'long',
          nullable: false,
          metadata: { 'delta.identity.start': 1, 'delta.identity.highWaterMark': 81234 },
        },
        {
          name: 'region',
          type: 'string',
          nullable: true,
          metadata: { 'delta.columnMapping.physicalName': 'col-r' },
        },
      ],
    };
    const { lines } = await run(
      [
        {
          metaData: {
            id: 'table-id',
            name: 'secret_sales',
            description: 'EU and US sales, US margins in column x',
            format: { provider: 'parquet', options: { path: 's3://elsewhere' } },
            schemaString: JSON.stringify(schema),
            partitionColumns: ['region'],
            configuration: {
              'delta.columnMapping.mode': 'name',
              'delta.enableDeletionVectors': 'true',
              'owner.team': 'finance',
              'delta.somethingFuture': 'x',
            },
            createdTime: 9,
          },
        },
        {
          protocol: {
            minReaderVersion: 3,
            minWriterVersion: 7,
            readerFeatures: ['columnMapping'],
            writerFeatures: ['columnMapping'],
          },
        },
      ],
      [{ region: 'EU' }],
    );
    const meta = lines.find((l) => l.metaData)!.metaData;
    expect(meta).toEqual({
      id: 'table-id',
      format: { provider: 'parquet', options: {} },
      schemaString: expect.any(String),
      partitionColumns: ['region'],
      configuration: { 'delta.columnMapping.mode': 'name', 'delta.enableDeletionVectors': 'true' },
      createdTime: 9,
    });
    expect(JSON.parse(meta.schemaString).fields[0].metadata).toEqual({ 'delta.identity.start': 1 });
    expect(lines.find((l) => l.protocol)!.protocol.readerFeatures).toEqual(['columnMapping']);
  });

  it('classifies a remove without partitionValues by the add that introduced its file', async () => {
    const { lines, asked } = await run(
      [
        { commitInfo: { timestamp: 1 } },
        { remove: { path: 'col-r=EU/a.parquet', deletionTimestamp: 1, dataChange: true } },
        { remove: { path: 'col-r=US/b.parquet', deletionTimestamp: 1, dataChange: true } },
        { remove: { path: 'nowhere.parquet', deletionTimestamp: 1, dataChange: true } },
      ],
      [{ region: 'EU' }],
      { 'col-r=EU/a.parquet': { 'col-r': 'EU' }, 'col-r=US/b.parquet': { 'col-r': 'US' } },
    );
    expect(asked).toEqual(['col-r=EU/a.parquet@7', 'col-r=US/b.parquet@7', 'nowhere.parquet@7']);
    expect(lines.slice(1)).toEqual([
      { remove: { path: 'col-r=EU/a.parquet', deletionTimestamp: 1, dataChange: true } },
    ]);
  });

  it('gives a deletion vector whose file is gone a stable placeholder no reader can decode', async () => {
    // A vacuumed DV file: the versions that need it were unreadable through the raw log too.
    const dv = {
      storageType: 'p',
      pathOrInlineDv: `${ROOT}/gone.bin`,
      offset: 1,
      sizeInBytes: 40,
      cardinality: 2,
    };
    const first = await run(
      [{ add: { ...eu('col-r=EU/a.parquet'), deletionVector: dv } }],
      [{ region: 'EU' }],
    );
    const again = await run(
      [{ add: { ...eu('col-r=EU/a.parquet'), deletionVector: dv } }],
      [{ region: 'EU' }],
    );
    const out = first.lines[1]!.add.deletionVector;
    expect(out).toMatchObject({ storageType: 'i', sizeInBytes: 16, cardinality: 2 });
    expect(again.lines[1]!.add.deletionVector).toEqual(out);
    const bytes = z85Decode(out.pathOrInlineDv)!;
    expect(bytes.byteLength).toBe(16);
    // Not the Roaring magic (1681511377, little-endian) a reader looks for first.
    expect(Buffer.from(bytes).readUInt32LE(0)).not.toBe(1681511377);
  });

  it.each([
    ['u', 5],
    ['i', null],
    ['p', { path: 'x' }],
  ])(
    'gives a deletion vector (storage %s) whose id is not a string the placeholder',
    async (storageType, id) => {
      // A damaged descriptor: reading its file or copying it inline would pass garbage on.
      const dv = { storageType, pathOrInlineDv: id, sizeInBytes: 40, cardinality: 2 };
      const { lines } = await run(
        [{ add: { ...eu('col-r=EU/a.parquet'), deletionVector: dv } }],
        [{ region: 'EU' }],
      );
      const out = lines[1]!.add.deletionVector;
      expect(out).toMatchObject({ storageType: 'i', sizeInBytes: 16, cardinality: 2 });
      expect(z85Decode(out.pathOrInlineDv)!.byteLength).toBe(16);
    },
  );

  it('makes absolute paths inside the table relative and drops files outside it', async () => {
    const { lines, out } = await run(
      [
        { add: eu(`${ROOT}/col-r=EU/x%20y.parquet`) },
        { add: eu('s3a://bucket/tables/sales/col-r=EU/z.parquet') },
        { add: eu('s3://other-bucket/col-r=EU/w.parquet') },
        { add: eu(`${ROOT}/col-r=EU/q%3F%23%3A.parquet`) },
      ],
      [{}],
    );
    expect(lines.slice(1).map((l) => l.add.path)).toEqual([
      'col-r=EU/x%20y.parquet',
      'col-r=EU/z.parquet',
      'col-r=EU/q%3F%23%3A.parquet',
    ]);
    expect(out).not.toContain('bucket');
  });

  it('treats "" and null as the null partition and refuses a map lacking a partition column or naming another', async () => {
    // `b` names a column the table is not partitioned by and `c` is keyed by the logical name: the
    // snapshot refuses both, so no caller sees them, not even one granted the null partition (or
    // the whole table).
    const { lines } = await run(
      [
        { add: { ...eu('a'), partitionValues: { 'col-r': '' } } },
        { add: { ...eu('b'), partitionValues: { 'col-r': null, other: 'EU' } } },
        { add: { ...eu('c'), partitionValues: { region: 'EU' } } },
      ],
      [{ region: null }],
    );
    expect(lines.slice(1).map((l) => l.add.path)).toEqual(['a']);
  });

  it('shows no file whose partition value is not a string or null, as the snapshot refuses it', async () => {
    const cdc = (path: string, partitionValues: unknown) => ({
      cdc: { path, partitionValues, size: 1, dataChange: false },
    });
    const { lines } = await run(
      [
        { add: { ...eu('a'), partitionValues: { 'col-r': ['EU'] } } },
        { add: { ...eu('b'), partitionValues: { 'col-r': 1.0 } } },
        { add: { ...eu('c'), partitionValues: ['EU'] } },
        { add: { ...eu('ok'), partitionValues: { 'col-r': 'EU' } } },
        cdc('_change_data/a', { 'col-r': ['EU'] }),
        cdc('_change_data/b', { 'col-r': 1 }),
        cdc('_change_data/ok', { 'col-r': 'EU' }),
      ],
      [{ region: 'EU' }, { region: '1' }],
    );
    expect(lines.slice(1).map((l) => (l.add ?? l.cdc).path)).toEqual(['ok', '_change_data/ok']);
  });

  it('shows a change-data file by the rule the proxy serves it: null values may be left out (Delta 2.1), a key of another column refuses it', async () => {
    const cdc = (path: string, partitionValues: object) => ({
      cdc: { path, partitionValues, size: 1, dataChange: false },
    });
    const { lines } = await run(
      [
        cdc('_change_data/a', {}),
        cdc('_change_data/b', { 'col-r': null }),
        cdc('_change_data/c', { old_column: 'US' }),
        cdc('_change_data/d', { 'col-r': null, old_column: 'US' }),
      ],
      [{ region: null }],
    );
    expect(lines.slice(1).map((l) => l.cdc.path)).toEqual(['_change_data/a', '_change_data/b']);
  });
});
