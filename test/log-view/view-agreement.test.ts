/**
 * The three views of a table agree: every file the filtered log names (at any version a reader
 * can replay it at) is served by the authorizer (snapshot, then retained history), and every file
 * of the real log the authorizer serves is named somewhere in the view. Hand-written logs hold the
 * shapes the corpus lacks.
 */
import { describe, expect, it } from 'vitest';
import type { PartitionMap } from '../../lambda/access/grant';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import { CheckpointWriter } from '../../lambda/log-view/checkpoint-writer';
import {
  add,
  MemoryDeltaStorage,
  metaData,
  protocolV1,
  repeatedKeyCheckpoint,
} from '../helpers/delta-memory-storage';
import { checkpointKey, commitKey, dvProtocol } from '../helpers/log-text';
import { checkAgreement } from '../helpers/view-agreement';

const DAY = 86_400_000;

type PV = Record<string, string | null>;

const rm = (path: string, extra: Record<string, unknown> = {}) => ({
  remove: { path, dataChange: true, ...extra },
});

async function cp(
  s: MemoryDeltaStorage,
  version: number,
  cols: string[],
  files: { path: string; partitionValues: PV }[],
  removes: { path: string; partitionValues?: PV; deletionTimestamp: number }[] = [],
  configuration: Record<string, string> = {},
) {
  await writeCheckpoint(
    { put: async (rel, bytes) => void s.put(rel, bytes) },
    version,
    protocolV1.protocol,
    metaData(cols, { configuration }).metaData,
    files.map((f) => ({ ...f, size: 1, modificationTime: 0, dataChange: false })),
    { removes },
  );
}

const GRANTS: PartitionMap[][] = [[{ region: 'EU' }], [{ region: null }], [{}]];

async function expectAgreement(s: MemoryDeltaStorage, now: number, grants = GRANTS) {
  for (const maps of grants) {
    const r = await checkAgreement(s, maps, now);
    expect({ maps, named: r.namedButRefused, hidden: r.servedButHidden }).toEqual({
      maps,
      named: [],
      hidden: [],
    });
  }
}

describe('the filtered log and the authorizer agree', () => {
  it('removes with and without partition values, re-adds and DV updates', async () => {
    const s = new MemoryDeltaStorage();
    const eu = 'region=EU/a.parquet';
    const us = 'region=US/b.parquet';
    const nul = 'region=__HIVE_DEFAULT_PARTITION__/n.parquet';
    s.commit(0, [
      { commitInfo: { timestamp: 1 } },
      protocolV1,
      metaData(['region']),
      add(eu, { region: 'EU' }),
      add(us, { region: 'US' }),
      add(nul, { region: null }),
    ]);
    s.commit(1, [
      { commitInfo: { timestamp: 2 } },
      rm(eu, { deletionTimestamp: 2 }),
      rm(us, { deletionTimestamp: 2, partitionValues: { region: 'US' }, extendedFileMetadata: true }),
      rm(nul, { deletionTimestamp: 2, partitionValues: {}, extendedFileMetadata: true }),
    ]);
    s.commit(2, [{ commitInfo: { timestamp: 3 } }, add(eu, { region: 'EU' }), add(nul, { region: null })]);
    s.commit(3, [{ commitInfo: { timestamp: 4 } }, rm(eu, { deletionTimestamp: 4 })]);
    await expectAgreement(s, 10);
  });

  it('a remove without deletionTimestamp in a commit without commitInfo, after a checkpoint', async () => {
    // The remove's time is then its commit's Last-Modified: the file stays readable for the
    // retention after it, by the newest checkpoint's history as by the complete one.
    const now = Date.now();
    const s = new MemoryDeltaStorage();
    s.lastModified = new Date(now - DAY);
    const eu = 'region=EU/a.parquet';
    s.commit(0, [protocolV1, metaData(['region']), add(eu, { region: 'EU' })]);
    s.commit(1, [add('region=EU/b.parquet', { region: 'EU' })]);
    await cp(
      s,
      1,
      ['region'],
      [
        { path: eu, partitionValues: { region: 'EU' } },
        { path: 'region=EU/b.parquet', partitionValues: { region: 'EU' } },
      ],
    );
    s.commit(2, [rm(eu, { partitionValues: { region: 'EU' }, extendedFileMetadata: true })]);
    await expectAgreement(s, now, [[{ region: 'EU' }]]);
  });
  it('shows no commit before the oldest version the log can rebuild (its change data is not served)', async () => {
    // A log cleanup under way: commit 0 is gone, commit 1 not yet. Version 1 cannot be rebuilt,
    // the retained range starts at checkpoint 2, and the history serves no change data of commit 1.
    const s = new MemoryDeltaStorage();
    s.commit(1, [
      { commitInfo: { timestamp: 1 } },
      { cdc: { path: '_change_data/region=EU/c1.parquet', partitionValues: { region: 'EU' }, size: 1 } },
      add('region=EU/a.parquet', { region: 'EU' }),
    ]);
    await cp(s, 2, ['region'], [{ path: 'region=EU/a.parquet', partitionValues: { region: 'EU' } }]);
    s.commit(2, [{ commitInfo: { timestamp: 2 } }]);
    s.commit(3, [
      { commitInfo: { timestamp: 3 } },
      { cdc: { path: '_change_data/region=EU/c3.parquet', partitionValues: { region: 'EU' }, size: 1 } },
    ]);
    await expectAgreement(s, 10);
    const all = await checkAgreement(s, [{}], 10);
    expect([...all.at.keys()]).toEqual([2, 3]);
    expect(all.text).not.toContain('c1.parquet');
    expect(all.text).toContain('c3.parquet');
  });
  it('a remove whose values leave a column out is placed by its add, never taken for the null partition', async () => {
    // Spark 3.3 leaves null values out of a remove, so a remove of {} may be of the null
    // partition; it may as well be a broken writer's remove of a US file. Its add decides.
    const s = new MemoryDeltaStorage();
    const us = 'region=US/u.parquet';
    const nul = 'region=__HIVE_DEFAULT_PARTITION__/n.parquet';
    s.commit(0, [
      { commitInfo: { timestamp: 1 } },
      protocolV1,
      metaData(['region']),
      add(us, { region: 'US' }),
      add(nul, { region: null }),
    ]);
    s.commit(1, [
      { commitInfo: { timestamp: 2 } },
      rm(us, { deletionTimestamp: 2, partitionValues: {}, extendedFileMetadata: true }),
      rm(nul, { deletionTimestamp: 2, partitionValues: {}, extendedFileMetadata: true }),
    ]);
    await expectAgreement(s, 10);
    expect((await checkAgreement(s, [{ region: null }], 10)).served).toEqual([nul]);
    expect((await checkAgreement(s, [{ region: 'US' }], 10)).served).toEqual([us]);
  });

  it('a checkpoint older than the retained log places no file (the history starts after it)', async () => {
    // A log cleanup under way left checkpoint 0 but not commit 1: the retained log starts at
    // checkpoint 2, whose tombstone of a.parquet carries no values. Only checkpoint 0 knows its
    // partition; the history cannot use it, so the view must not either.
    const s = new MemoryDeltaStorage();
    const a = 'region=EU/a.parquet';
    s.commit(0, [
      { commitInfo: { timestamp: 1 } },
      protocolV1,
      metaData(['region']),
      add(a, { region: 'EU' }),
    ]);
    await cp(s, 0, ['region'], [{ path: a, partitionValues: { region: 'EU' } }]);
    s.commit(2, [{ commitInfo: { timestamp: 3 } }, add('region=EU/b.parquet', { region: 'EU' })]);
    await cp(
      s,
      2,
      ['region'],
      [{ path: 'region=EU/b.parquet', partitionValues: { region: 'EU' } }],
      [{ path: a, deletionTimestamp: 2 }],
    );
    await expectAgreement(s, 10);
    const eu = await checkAgreement(s, [{ region: 'EU' }], 10);
    expect(eu.text).not.toContain('a.parquet');
  });

  it('a checkpoint map that repeats one column in place of another is shown to no one, as the proxy refuses it', async () => {
    const s = await repeatedKeyCheckpoint();
    const grants: PartitionMap[][] = [[{ region: 'EU', b: null }], [{}]];
    await expectAgreement(s, 10, grants);
    const all = await checkAgreement(s, [{}], 10);
    expect(all.at.get(0)).toEqual(['whole.parquet']);
  });

  it('a file one commit adds twice with different values is refused by every reader, active or removed', async () => {
    // No single reading (kernel keeps a log file's first add of a path, Spark the last): the
    // snapshot refuses it while active; the view must not show it, and once a remove without
    // values takes it away the history must not place it by either add.
    const s = new MemoryDeltaStorage();
    const x = 'region=EU/x.parquet';
    s.commit(0, [
      { commitInfo: { timestamp: 1 } },
      protocolV1,
      metaData(['region']),
      add(x, { region: 'EU' }),
      add(x, { region: 'US' }),
      add('region=EU/y.parquet', { region: 'EU' }),
      // The same file twice with the same values (one written with "" for null) is no conflict.
      add('region=__HIVE_DEFAULT_PARTITION__/n.parquet', { region: null }),
      add('region=__HIVE_DEFAULT_PARTITION__/n.parquet', { region: '' }),
    ]);
    const grants: PartitionMap[][] = [[{ region: 'EU' }], [{ region: 'US' }], [{ region: null }], [{}]];
    await expectAgreement(s, 10, grants);
    expect((await checkAgreement(s, [{}], 10)).at.get(0)).toEqual([
      'region=EU/y.parquet',
      'region=__HIVE_DEFAULT_PARTITION__/n.parquet',
    ]);
    s.commit(1, [{ commitInfo: { timestamp: 2 } }, rm(x, { deletionTimestamp: 2 })]);
    await expectAgreement(s, 10, grants);
    for (const maps of grants) expect((await checkAgreement(s, maps, 10)).served).not.toContain(x);
  });

  it('a table re-partitioned to fewer columns: its old files are shown to no one, as the proxy refuses them', async () => {
    // partitionBy(region, b), then an overwrite partitioned by region alone: the old file's
    // values name b, a column the table is no longer partitioned by. The history refuses it, so
    // the view must not show it at version 0 (a time traveller would be refused its data).
    const s = new MemoryDeltaStorage();
    s.commit(0, [
      { commitInfo: { timestamp: 1 } },
      protocolV1,
      metaData(['region', 'b']),
      add('region=EU/b=1/old.parquet', { region: 'EU', b: '1' }),
    ]);
    s.commit(1, [
      { commitInfo: { timestamp: 2 } },
      metaData(['region']),
      rm('region=EU/b=1/old.parquet', {
        deletionTimestamp: 2,
        partitionValues: { region: 'EU', b: '1' },
        extendedFileMetadata: true,
      }),
      add('region=EU/new.parquet', { region: 'EU' }),
    ]);
    await expectAgreement(s, 10);
    const eu = await checkAgreement(s, [{ region: 'EU' }], 10);
    expect(eu.at.get(0)).toEqual([]);
    expect(eu.at.get(1)).toEqual(['region=EU/new.parquet']);
    expect(eu.text).not.toContain('old.parquet');
  });

  it('a file whose add names a column the table is not partitioned by is refused everywhere, current or removed', async () => {
    // x's add carries a stray key: the history refuses it once removed, so neither the snapshot
    // nor the view may serve or show it while it is active. y's add is sound and only its remove
    // carries the stray key: both classify it by its add.
    const s = new MemoryDeltaStorage();
    s.commit(0, [
      { commitInfo: { timestamp: 1 } },
      protocolV1,
      metaData(['region']),
      add('region=EU/x.parquet', { region: 'EU', other: '1' }),
      add('region=EU/y.parquet', { region: 'EU' }),
    ]);
    await expectAgreement(s, 10);
    expect((await checkAgreement(s, [{}], 10)).at.get(0)).toEqual(['region=EU/y.parquet']);
    s.commit(1, [
      { commitInfo: { timestamp: 2 } },
      rm('region=EU/x.parquet', { deletionTimestamp: 2 }),
      rm('region=EU/y.parquet', { deletionTimestamp: 2, partitionValues: { region: 'EU', other: '1' } }),
    ]);
    await expectAgreement(s, 10);
    const all = await checkAgreement(s, [{}], 10);
    expect(all.at.get(1)).toEqual([]);
    expect(all.text).not.toContain('x.parquet');
    expect(all.text).toContain('y.parquet');
  });

  it('the same from a checkpoint', async () => {
    const s = new MemoryDeltaStorage();
    s.commit(0, [
      { commitInfo: { timestamp: 1 } },
      protocolV1,
      metaData(['region']),
      add('region=EU/z.parquet', { region: 'EU', other: '1' }),
      add('region=EU/w.parquet', { region: 'EU' }),
    ]);
    await cp(
      s,
      0,
      ['region'],
      [
        { path: 'region=EU/z.parquet', partitionValues: { region: 'EU', other: '1' } },
        { path: 'region=EU/w.parquet', partitionValues: { region: 'EU' } },
      ],
    );
    await expectAgreement(s, 10);
    const all = await checkAgreement(s, [{}], 10);
    expect(all.at.get(0)).toEqual(['region=EU/w.parquet']);
    expect(all.text).not.toContain('z.parquet');
  });

  it('a checkpoint map with a "__proto__" key names a column the table is not partitioned by', async () => {
    // Read into a plain object, `values.__proto__ = null` set the prototype and dropped the key:
    // the history placed the removed file by the add the snapshot and the view refuse.
    const s = new MemoryDeltaStorage();
    const stray = JSON.parse('{"region":"EU","__proto__":null}') as PV;
    s.commit(0, [
      { commitInfo: { timestamp: 1 } },
      protocolV1,
      metaData(['region']),
      add('region=EU/p.parquet', stray),
    ]);
    await cp(
      s,
      0,
      ['region'],
      [
        {
          path: 'region=EU/p.parquet',
          partitionValues: [
            { key: 'region', value: 'EU' },
            { key: '__proto__', value: null },
          ] as never,
        },
      ],
    );
    s.commit(1, [{ commitInfo: { timestamp: 2 } }, rm('region=EU/p.parquet', { deletionTimestamp: 2 })]);
    await expectAgreement(s, 10);
    expect((await checkAgreement(s, [{}], 10)).served).toEqual([]);
  });

  it('a remove without complete values whose add a log cleanup took is placed by a tombstone with them', async () => {
    // A deletion-vector DELETE removes the file with its values and adds it back with a vector; a
    // later remove of that copy leaves its null value out (Spark 3.3). A cleanup up to the
    // checkpoint of that remove takes both adds: only the DELETE's tombstone still says where the
    // file is. The history serves the file by it, so the filtered commit must show the remove.
    const s = new MemoryDeltaStorage();
    const nul = 'region=__HIVE_DEFAULT_PARTITION__/n.parquet';
    const vector = {
      storageType: 'i',
      pathOrInlineDv: 'wi5b=000010000siXQKl0rr91000f55c8Xg0@fTk',
      sizeInBytes: 34,
      cardinality: 2,
    };
    s.commit(0, [
      { commitInfo: { timestamp: 1 } },
      dvProtocol,
      metaData(['region']),
      add(nul, { region: null }),
    ]);
    s.commit(1, [
      { commitInfo: { timestamp: 2 } },
      rm(nul, { deletionTimestamp: 2, partitionValues: { region: null }, extendedFileMetadata: true }),
      add(nul, { region: null }, vector),
    ]);
    const gone = rm(nul, {
      deletionTimestamp: 3,
      partitionValues: {},
      extendedFileMetadata: true,
      deletionVector: vector,
    });
    s.commit(2, [{ commitInfo: { timestamp: 3 } }, gone]);
    const w = new CheckpointWriter();
    await w.push([
      { protocol: dvProtocol.protocol },
      { metaData: metaData(['region']).metaData },
      {
        remove: {
          path: nul,
          deletionTimestamp: 2,
          dataChange: false,
          extendedFileMetadata: true,
          partitionValues: { region: null },
        },
      },
      { remove: { ...gone.remove, dataChange: false } },
    ]);
    s.put(checkpointKey(2), (await w.finish()).bytes);
    s.files.delete(commitKey(0));
    s.files.delete(commitKey(1));
    await expectAgreement(s, 10);
    const own = await checkAgreement(s, [{ region: null }], 10);
    expect(own.served).toEqual([nul]);
    expect(own.text).toContain(`"remove":{"path":"${nul}"`);
    const other = await checkAgreement(s, [{ region: 'EU' }], 10);
    expect(other.served).toEqual([]);
    expect(other.text).not.toContain('n.parquet');
  });
});
