/**
 * Replay rules on synthetic logs: reconciliation by (path, DV id), path decoding and
 * resolution, partition value forms, column mapping, DV storage types, CDC files, reader
 * features and malformed logs.
 */
import { describe, expect, it } from 'vitest';
import { DeltaLogError } from '../../lambda/delta/delta-log-error';
import { loadSnapshot, refreshSnapshot } from '../../lambda/delta/load-snapshot';
import { MULTI_TUPLE, NO_TUPLE } from '../../lambda/delta/snapshot-view';
import { uuidString, z85Decode, z85Encode } from '../../lambda/delta/z85';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import { add, MemoryDeltaStorage, metaData, protocolV1, remove } from '../helpers/delta-memory-storage';

const tableUri = 's3://bucket/warehouse/t';
const load = (s: MemoryDeltaStorage, version?: number) =>
  loadSnapshot(s, { tableUri, ...(version !== undefined ? { version } : {}) });
const values = (snap: Awaited<ReturnType<typeof load>>, p: string) => snap.tupleValues(snap.tupleOf(p));

const uuidBytes = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
const dvU = (prefix = '') => ({
  storageType: 'u',
  pathOrInlineDv: `${prefix}${z85Encode(uuidBytes)}`,
  offset: 1,
  sizeInBytes: 34,
  cardinality: 1,
});
const dvFileName = `deletion_vector_${uuidString(uuidBytes)}.bin`;

describe('log replay', () => {
  it('decodes Z85 as the ZeroMQ spec example shows', () => {
    expect(z85Encode(Uint8Array.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]))).toBe('HelloWorld');
    expect(Array.from(z85Decode('HelloWorld')!)).toEqual([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Decode('Hello~orld')).toBeUndefined();
  });

  it('removes a file only with the same deletion vector id, and keeps the newest DV of a path', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [protocolV1, metaData([]), add('a.parquet'), add('b.parquet')])
      .commit(1, [remove('a.parquet'), add('a.parquet', {}, dvU())])
      .commit(2, [remove('b.parquet', dvU())]); // names another logical file: b stays
    const snap = await load(s);
    expect(snap.activeFileCount).toBe(2);
    expect(snap.deletionVectorOf('a.parquet')?.id).toBe(`u${z85Encode(uuidBytes)}@1`);
    expect(snap.kindOf(dvFileName)).toBe('deletionVector');
    const after = await load(s.commit(3, [remove('a.parquet', dvU())]));
    expect(after.tupleOf('a.parquet')).toBe(NO_TUPLE);
    expect(after.tupleOf(dvFileName)).toBe(NO_TUPLE);
    expect(after.tupleOf('b.parquet')).toBe(0);
  });

  it('percent-decodes add.path once and never maps a path outside the root inside it', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      protocolV1,
      metaData(['x']),
      add('x=A%252FA/f1.parquet', { x: 'A/A' }),
      add('x=B%20B/f2.parquet', { x: 'B B' }),
      add(`${tableUri}/x=C/f3.parquet`, { x: 'C' }),
      add('s3a://bucket/warehouse/t/x=D/f4.parquet', { x: 'D' }),
      add('s3://bucket/warehouse/other/f5.parquet', { x: 'E' }),
      add('s3://bucket/warehouse/t2/f6.parquet', { x: 'E' }),
      add('../escape.parquet', { x: 'E' }),
      add('x=F/./f7.parquet', { x: 'F' }),
    ]);
    const snap = await load(s);
    expect(values(snap, 'x=A%2FA/f1.parquet')).toEqual(['A/A']);
    expect(values(snap, 'x=B B/f2.parquet')).toEqual(['B B']);
    expect(values(snap, 'x=C/f3.parquet')).toEqual(['C']);
    expect(values(snap, 'x=D/f4.parquet')).toEqual(['D']);
    expect(snap.activeFileCount).toBe(8);
    expect(snap.fileCount).toBe(4);
    expect(snap.externalFiles().sort()).toEqual([
      's3://bucket/warehouse/other/f5.parquet',
      's3://bucket/warehouse/t/../escape.parquet',
      's3://bucket/warehouse/t/x=F/./f7.parquet',
      's3://bucket/warehouse/t2/f6.parquet',
    ]);
    for (const p of [
      'other/f5.parquet',
      '../escape.parquet',
      'escape.parquet',
      'x=F/f7.parquet',
      'f6.parquet',
    ]) {
      expect(snap.tupleOf(p), p).toBe(NO_TUPLE);
    }
  });

  it('keeps partition values as serialized: empty string is null, "null" is a string, a missing key refuses the file', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      protocolV1,
      metaData(['d', 'ts', 's'], {
        schema: [
          { name: 'd', type: 'date', nullable: true, metadata: {} },
          { name: 'ts', type: 'timestamp', nullable: true, metadata: {} },
          { name: 's', type: 'string', nullable: true, metadata: {} },
        ],
      }),
      add('a.parquet', { d: '2024-01-01', ts: '2024-01-01 10:00:00', s: '' }),
      add('b.parquet', { d: null, ts: '2024-01-01T10:00:00.000000Z', s: 'null' }),
      add('c.parquet', { ts: '1970-01-01 00:00:00' }),
    ]);
    const snap = await load(s);
    expect(snap.partitionColumns.map((c) => c.type)).toEqual(['date', 'timestamp', 'string']);
    expect(values(snap, 'a.parquet')).toEqual(['2024-01-01', '2024-01-01 10:00:00', null]);
    expect(values(snap, 'b.parquet')).toEqual([null, '2024-01-01T10:00:00.000000Z', 'null']);
    expect(snap.tupleOf('c.parquet')).toBe(NO_TUPLE);
    expect(snap.tupleCount).toBe(2);
  });

  it('reads partition values by physical name under column mapping and exposes the logical name', async () => {
    const schema = [
      {
        name: 'region',
        type: 'string',
        nullable: true,
        metadata: { 'delta.columnMapping.id': 2, 'delta.columnMapping.physicalName': 'col-abc' },
      },
    ];
    const s = new MemoryDeltaStorage().commit(0, [
      { protocol: { minReaderVersion: 2, minWriterVersion: 5 } },
      metaData(['region'], { schema, configuration: { 'delta.columnMapping.mode': 'name' } }),
      add('Xy/f.parquet', { 'col-abc': 'eu' }),
      // The logical name is not a partitionValues key: a map naming it is refused.
      add('Xy/g.parquet', { 'col-abc': 'eu', region: 'wrong' }),
    ]);
    const snap = await load(s);
    expect(snap.partitionColumns).toEqual([{ logical: 'region', physical: 'col-abc', type: 'string' }]);
    expect(values(snap, 'Xy/f.parquet')).toEqual(['eu']);
    expect(snap.tupleOf('Xy/g.parquet')).toBe(NO_TUPLE);
  });

  it('authorizes DV files (u with prefix, p inside the root) and CDC files with their owner, never inline or outside DVs', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      {
        protocol: {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: ['deletionVectors'],
          writerFeatures: ['deletionVectors'],
        },
      },
      metaData(['p']),
      add('p=1/a.parquet', { p: '1' }, dvU('ab')),
      add('p=2/b.parquet', { p: '2' }, dvU('ab')), // the same DV file, another partition
      add(
        'p=1/c.parquet',
        { p: '1' },
        { storageType: 'p', pathOrInlineDv: `${tableUri}/dv/x%20y.bin`, offset: 4 },
      ),
      add('p=1/d.parquet', { p: '1' }, { storageType: 'p', pathOrInlineDv: 's3://elsewhere/dv.bin' }),
      add(
        'p=1/e.parquet',
        { p: '1' },
        { storageType: 'i', pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L' },
      ),
      {
        cdc: {
          path: '_change_data/p=2/cdc-1.parquet',
          partitionValues: { p: '2' },
          size: 1,
          dataChange: false,
        },
      },
    ]);
    const snap = await load(s);
    const shared = `ab/${dvFileName}`;
    expect(snap.tupleOf(shared)).toBe(MULTI_TUPLE);
    expect(
      snap
        .tuplesOf(shared)
        .map((t) => snap.tupleValues(t)[0])
        .sort(),
    ).toEqual(['1', '2']);
    expect(values(snap, 'dv/x y.bin')).toEqual(['1']);
    expect(snap.kindOf('dv/x y.bin')).toBe('deletionVector');
    expect(values(snap, '_change_data/p=2/cdc-1.parquet')).toEqual(['2']);
    expect(snap.kindOf('_change_data/p=2/cdc-1.parquet')).toBe('changeData');
    expect(snap.fileCount).toBe(5 + 2 + 1);
    // Dropping one owner of the shared DV file leaves it to the other partition only.
    const after = await load(s.commit(1, [remove('p=2/b.parquet', dvU('ab'))]));
    expect(after.tupleOf(shared)).toBe(after.tupleOf('p=1/a.parquet'));
  });

  it('refuses a table with a reader feature it does not understand, without reading its files', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      {
        protocol: {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: ['deletionVectors', 'catalogManaged'],
          writerFeatures: [],
        },
      },
      metaData([]),
      add('a.parquet'),
    ]);
    const snap = await load(s);
    expect(snap.unsupportedReaderFeatures).toEqual(['catalogManaged']);
    expect(snap.fileCount).toBe(0);
    expect(snap.tupleOf('a.parquet')).toBe(NO_TUPLE);
    const v4 = await load(
      new MemoryDeltaStorage().commit(0, [
        { protocol: { minReaderVersion: 4, minWriterVersion: 7 } },
        metaData([]),
      ]),
    );
    expect(v4.unsupportedReaderFeatures).toEqual(['minReaderVersion=4']);
  });

  it('reads a table whose only extra reader feature is vacuumProtocolCheck (nothing for readers)', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      {
        protocol: {
          minReaderVersion: 3,
          minWriterVersion: 7,
          readerFeatures: ['vacuumProtocolCheck'],
          writerFeatures: ['vacuumProtocolCheck'],
        },
      },
      metaData([]),
      add('a.parquet'),
    ]);
    const snap = await load(s);
    expect(snap.unsupportedReaderFeatures).toEqual([]);
    expect(snap.tupleOf('a.parquet')).not.toBe(NO_TUPLE);
  });

  it('refuses a reader-writer feature a reader honours from writerFeatures or at any reader version, in a commit or a checkpoint', async () => {
    // Spark counts a feature as supported when either list names it (TableFeatureSupport
    // .isFeatureSupported): these tables are catalog-managed to Spark, whose commits the proxy
    // does not see. Unknown names listed only as writer features are writer-only (PROTOCOL.md).
    const protocols = [
      { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: [], writerFeatures: ['catalogManaged'] },
      { minReaderVersion: 3, minWriterVersion: 7, writerFeatures: ['typeWidening'] },
      { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['catalogManaged'] },
      { minReaderVersion: 2, minWriterVersion: 5, readerFeatures: ['catalogManaged'] },
      { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: 'catalogManaged', writerFeatures: [] },
    ];
    for (const protocol of protocols) {
      const s = new MemoryDeltaStorage().commit(0, [{ protocol }, metaData([]), add('a.parquet')]);
      const snap = await load(s);
      expect(snap.unsupportedReaderFeatures, JSON.stringify(protocol)).not.toEqual([]);
      expect(snap.tupleOf('a.parquet')).toBe(NO_TUPLE);
    }
    const cp = new MemoryDeltaStorage();
    await writeCheckpoint(
      { put: async (rel, bytes) => void cp.put(rel, bytes) },
      0,
      { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: [], writerFeatures: ['catalogManaged'] },
      metaData([]).metaData,
      [{ path: 'a.parquet', partitionValues: {}, size: 1, modificationTime: 0, dataChange: true }],
    );
    const fromCheckpoint = await load(cp.commit(0, [protocolV1, metaData([])]));
    expect(fromCheckpoint.loadInfo.checkpointVersion).toBe(0);
    expect(fromCheckpoint.unsupportedReaderFeatures).toEqual(['catalogManaged']);
    expect(fromCheckpoint.tupleOf('a.parquet')).toBe(NO_TUPLE);
    const writerOnly = await load(
      new MemoryDeltaStorage().commit(0, [
        {
          protocol: {
            minReaderVersion: 3,
            minWriterVersion: 7,
            readerFeatures: ['deletionVectors'],
            writerFeatures: ['deletionVectors', 'rowTracking', 'someFutureWriterFeature'],
          },
        },
        metaData([]),
        add('a.parquet'),
      ]),
    );
    expect(writerOnly.unsupportedReaderFeatures).toEqual([]);
    expect(writerOnly.tupleOf('a.parquet')).not.toBe(NO_TUPLE);
    // A cached snapshot that meets such a protocol in a later commit refuses on refresh.
    const later = new MemoryDeltaStorage().commit(0, [protocolV1, metaData([]), add('a.parquet')]);
    const before = await load(later);
    later.commit(1, [{ protocol: protocols[0] }]);
    const { snapshot: refreshed } = await refreshSnapshot(before, later, { tableUri });
    expect(refreshed.unsupportedReaderFeatures).toEqual(['catalogManaged']);
    expect(refreshed.tupleOf('a.parquet')).toBe(NO_TUPLE);
  });

  it('refuses a partitioned table whose column mapping readers apply differently (mode without protocol support, or a case Spark alone accepts)', async () => {
    // PROTOCOL.md: the mode is honoured only with reader version 2, or 3 with columnMapping;
    // kernel follows that, Spark reads the property anyway (and case-insensitively). For the
    // file below Spark says region=eu and kernel says region=null: which partition is it in?
    const schema = [
      {
        name: 'region',
        type: 'string',
        nullable: true,
        metadata: { 'delta.columnMapping.id': 2, 'delta.columnMapping.physicalName': 'col-abc' },
      },
    ];
    const table = (protocol: object, mode: string) =>
      new MemoryDeltaStorage().commit(0, [
        { protocol },
        metaData(['region'], { schema, configuration: { 'delta.columnMapping.mode': mode } }),
        add('a.parquet', { 'col-abc': 'eu' }),
        add('b.parquet', { region: 'eu' }),
      ]);
    const v1 = { minReaderVersion: 1, minWriterVersion: 2 };
    const v3 = { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: [], writerFeatures: [] };
    const v2 = { minReaderVersion: 2, minWriterVersion: 5 };
    for (const [protocol, mode] of [
      [v1, 'name'],
      [v3, 'id'],
      [v2, 'Name'],
    ] as const) {
      const snap = await load(table(protocol, mode));
      expect(snap.unsupportedReaderFeatures, `${JSON.stringify(protocol)} ${mode}`).not.toEqual([]);
      expect(snap.tupleOf('a.parquet')).toBe(NO_TUPLE);
      expect(snap.tupleOf('b.parquet')).toBe(NO_TUPLE);
    }
    // Readers agree: with protocol support (also kernel's legacy writerFeatures-only shape).
    const legacy = {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: [],
      writerFeatures: ['columnMapping'],
    };
    for (const protocol of [v2, legacy]) {
      const snap = await load(table(protocol, 'name'));
      expect(snap.unsupportedReaderFeatures).toEqual([]);
      expect(values(snap, 'a.parquet')).toEqual(['eu']);
    }
    // No protocol support, but the physical name is the logical one: nothing to disagree on.
    const same = [{ ...schema[0]!, metadata: { 'delta.columnMapping.physicalName': 'region' } }];
    const plain = await load(
      new MemoryDeltaStorage().commit(0, [
        protocolV1,
        metaData(['region'], { schema: same, configuration: { 'delta.columnMapping.mode': 'name' } }),
        add('b.parquet', { region: 'eu' }),
      ]),
    );
    expect(plain.unsupportedReaderFeatures).toEqual([]);
    expect(values(plain, 'b.parquet')).toEqual(['eu']);
    // A later protocol that drops the support is noticed by a refresh.
    const moved = table(v2, 'name');
    const before = await load(moved);
    expect(values(before, 'a.parquet')).toEqual(['eu']);
    moved.commit(1, [{ protocol: v1 }]);
    const { snapshot: refreshed } = await refreshSnapshot(before, moved, { tableUri });
    expect(refreshed.unsupportedReaderFeatures).not.toEqual([]);
    expect(refreshed.tupleOf('a.parquet')).toBe(NO_TUPLE);
  });

  it('refuses a file one log file adds twice with different partition values (kernel keeps the first, Spark the last)', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      protocolV1,
      metaData(['region']),
      add('a.parquet', { region: 'US' }),
      add('a.parquet', { region: 'EU' }),
      add('b.parquet', { region: 'US' }),
      add(`${tableUri}/b.parquet`, { region: 'EU' }), // the same file, spelled otherwise
      add('c.parquet', { region: 'US' }),
      add('c.parquet', { region: 'US' }), // a repeat that agrees is harmless
    ]);
    const snap = await load(s);
    expect(snap.tupleOf('a.parquet')).toBe(NO_TUPLE);
    expect(snap.tupleOf('b.parquet')).toBe(NO_TUPLE);
    expect(values(snap, 'c.parquet')).toEqual(['US']);
    // Across commits the newest add wins for every reader.
    const moved = await load(s.commit(1, [add('a.parquet', { region: 'EU' })]));
    expect(values(moved, 'a.parquet')).toEqual(['EU']);
  });

  it('keeps every path and map of a commit as written, however it is spelled', async () => {
    // A commit's actions are held compactly (UTF-8 paths, shared maps) until applied: nothing of
    // a path or a map may change on the way.
    const paths = [
      'x\uD800y.parquet',
      '\uFEFFbom.parquet',
      'ü/ñ.parquet',
      'emoji-😀.parquet',
      'p%20q.parquet',
    ];
    const s = new MemoryDeltaStorage().commit(0, [
      protocolV1,
      metaData(['region', 'b']),
      ...paths.map((p, i) => add(p, i % 2 ? { region: 'EU', b: null } : { b: '', region: 'EU' })),
      add('a.parquet', { region: 'US', b: 'x' }),
      add('a.parquet', { region: 'EU', b: 'x' }),
      add('a.parquet', { region: 'US', b: 'x' }), // refused once, refused for the batch
      add('n.parquet', { region: 5, b: 'x' } as never), // no serialized value: refused
      add('n.parquet', { region: 'EU', b: 'x' }),
    ]);
    const snap = await load(s);
    for (const p of paths.slice(0, 4)) expect(values(snap, p)).toEqual(['EU', null]);
    expect(values(snap, 'p q.parquet')).toEqual(['EU', null]);
    expect(snap.tupleOf('bom.parquet')).toBe(NO_TUPLE);
    expect(snap.tupleOf('a.parquet')).toBe(NO_TUPLE);
    expect(snap.tupleOf('n.parquet')).toBe(NO_TUPLE);
    expect(snap.fileCount).toBe(paths.length);
  });

  it('throws a DeltaLogError naming the file for malformed or missing logs', async () => {
    const bad = new MemoryDeltaStorage()
      .commit(0, [protocolV1, metaData([])])
      .put('_delta_log/00000000000000000001.json', '{"add": {"path": "a"}}\nnot json\n');
    await expect(load(bad)).rejects.toThrow(/00000000000000000001\.json line 2 is not JSON/);
    await expect(load(bad)).rejects.toBeInstanceOf(DeltaLogError);
    const gap = new MemoryDeltaStorage().commit(0, [protocolV1, metaData([])]).commit(2, [add('a.parquet')]);
    await expect(load(gap)).rejects.toThrow(/00000000000000000001\.json is missing/);
    await expect(load(new MemoryDeltaStorage())).rejects.toThrow(/no Delta log/);
    await expect(load(new MemoryDeltaStorage().commit(0, [protocolV1, metaData([])]), 5)).rejects.toThrow(
      /version 5 does not exist/,
    );
  });
});
