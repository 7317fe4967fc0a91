/**
 * The retained history of a table (lambda/delta/history*.ts, load-history.ts): which versions are
 * retained, which removed / change-data files it knows with which partition values and when they
 * were removed, how it is brought forward, and what it reads to get there.
 */
import { describe, expect, it } from 'vitest';
import { CHANGE_DATA, type History } from '../../lambda/delta/history';
import {
  completeHistory,
  loadHistory,
  loadRecentHistory,
  updateHistory,
} from '../../lambda/delta/load-history';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { type ParsedLogPath, parseLogPath } from '../../lambda/delta/log-path';
import { retainedLog } from '../../lambda/delta/retained-log';
import { DEFAULT_DELETED_FILE_RETENTION_MS, parseInterval } from '../../lambda/delta/retention';
import { type AddFile, type RemoveFile, writeCheckpoint } from '../../lambda/local/delta-writer';
import { add, MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';
import { checkpointName, commitKey, commitName, logVersion } from '../helpers/log-text';

const tableUri = 's3://bucket/t';

function removeAt(path: string, at: number, pv?: Record<string, string | null>, dv?: object) {
  return {
    remove: {
      path,
      deletionTimestamp: at,
      dataChange: true,
      ...(pv ? { extendedFileMetadata: true, partitionValues: pv } : {}),
      ...(dv ? { deletionVector: dv } : {}),
    },
  };
}

function cdc(path: string, pv: Record<string, string | null>) {
  return { cdc: { path, partitionValues: pv, size: 1, dataChange: false } };
}

const commitInfo = (timestamp: number) => ({ commitInfo: { timestamp, operation: 'WRITE' } });

function addFile(path: string, pv: Record<string, string | null>): AddFile {
  return { path, partitionValues: pv, size: 1, modificationTime: 0, dataChange: true };
}

async function checkpoint(
  s: MemoryDeltaStorage,
  version: number,
  columns: string[],
  adds: AddFile[],
  removes: RemoveFile[],
) {
  await writeCheckpoint(
    {
      put: async (rel, bytes) => {
        s.put(rel, bytes);
      },
    },
    version,
    { minReaderVersion: 1, minWriterVersion: 2 },
    metaData(columns).metaData,
    adds,
    { removes },
  );
}

async function historyOf(s: MemoryDeltaStorage): Promise<History> {
  const snap = await loadSnapshot(s, { tableUri });
  return loadHistory(s, snap);
}

const record = (h: History, path: string) =>
  h
    .recordsOf(path)
    .map((r) => ({ values: h.tupleValues(r.tuple), deletedAt: r.deletedAt, version: r.version }));

const parsed = (names: string[]): ParsedLogPath[] =>
  names.map((n) => parseLogPath(`_delta_log/${n}`, 1)!).filter((p) => p !== undefined);

describe('retainedLog', () => {
  it('starts at version 0 when every commit is there, checkpoints or not', () => {
    const r = retainedLog(parsed([commitName(0), commitName(1), checkpointName(1), commitName(2)]));
    expect([r?.oldestVersion, r?.latestVersion, r?.checkpoints.length]).toEqual([0, 2, 0]);
    expect(r?.commits.map((c) => c.version)).toEqual([0, 1, 2]);
  });

  it('starts at the oldest checkpoint that the remaining commits follow (early log cleaned up)', () => {
    const r = retainedLog(
      parsed([
        checkpointName(3),
        commitName(3),
        commitName(4),
        checkpointName(5),
        commitName(5),
        commitName(6),
      ]),
    );
    expect(r?.oldestVersion).toBe(3);
    expect(r?.checkpoints.map((c) => c.version)).toEqual([3, 5]);
    expect(r?.commits.map((c) => c.version)).toEqual([3, 4, 5, 6]);
  });

  it('skips a checkpoint that a gap in the commits cuts off, and stops at upTo', () => {
    const names = [checkpointName(2), commitName(4), checkpointName(5), commitName(6), commitName(7)];
    expect(retainedLog(parsed(names))?.oldestVersion).toBe(5);
    expect(retainedLog(parsed(names), 6)?.commits.map((c) => c.version)).toEqual([6]);
    expect(retainedLog(parsed([commitName(4), commitName(5)]))).toBeUndefined();
  });

  it('takes a log of 200,000 retained commits (more than a call can spread into arguments)', () => {
    const names: string[] = [];
    for (let v = 1_000_000; v < 1_200_000; v++) {
      if (v % 10 === 0) names.push(checkpointName(v));
      names.push(commitName(v));
    }
    const r = retainedLog(parsed(names));
    expect([r?.oldestVersion, r?.latestVersion, r?.commits.length]).toEqual([1_000_000, 1_199_999, 200_000]);
  });

  it('ignores an incomplete multi-part checkpoint', () => {
    const r = retainedLog(
      parsed([`${logVersion(3)}.checkpoint.0000000001.0000000002.parquet`, commitName(4), commitName(5)]),
    );
    expect(r).toBeUndefined();
  });
});

describe('parseInterval (delta.deletedFileRetentionDuration)', () => {
  it.each([
    ['interval 7 days', 7 * 86_400_000],
    ['interval 1 week', 7 * 86_400_000],
    ['INTERVAL 2 hours', 2 * 3_600_000],
    ['interval 1 day 12 hours', 36 * 3_600_000],
    ['30 minutes', 1_800_000],
    ['interval 0 seconds', 0],
    ['interval 1500 milliseconds', 1500],
  ])('%s', (text, ms) => {
    expect(parseInterval(text)).toBe(ms);
  });

  it.each(['interval 1 month', 'seven days', 'interval 7', '', 'interval 1e3 days'])('refuses %j', (text) => {
    expect(parseInterval(text)).toBeUndefined();
  });
});

describe('loadHistory', () => {
  it('knows removed files with their partition values and deletion time, and change data of every commit', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [commitInfo(100), protocolV1, metaData(['p']), add('p=1/a.parquet', { p: '1' })])
      .commit(1, [
        commitInfo(200),
        add('p=2/b.parquet', { p: '2' }),
        cdc('_change_data/p=2/c1.parquet', { p: '2' }),
      ])
      .commit(2, [
        commitInfo(300),
        removeAt('p=1/a.parquet', 290, { p: '1' }),
        add('p=1/a2.parquet', { p: '1' }),
      ]);
    const h = await historyOf(s);
    expect([h.version, h.oldestVersion, h.retentionMs]).toEqual([2, 0, DEFAULT_DELETED_FILE_RETENTION_MS]);
    expect(record(h, 'p=1/a.parquet')).toEqual([{ values: ['1'], deletedAt: 290, version: 2 }]);
    expect(record(h, '_change_data/p=2/c1.parquet')).toEqual([
      { values: ['2'], deletedAt: CHANGE_DATA, version: 1 },
    ]);
    // Active files are the snapshot's business, not history's.
    expect(h.recordsOf('p=2/b.parquet')).toEqual([]);
    expect(h.recordsOf('p=1/a2.parquet')).toEqual([]);
    expect(h.expiresAt(290)).toBe(290 + DEFAULT_DELETED_FILE_RETENTION_MS);
    expect(h.partitionValuesOf('p=1/a.parquet')).toEqual(['1']);
  });

  it('ignores a cdc action naming a file outside _change_data/ (it must not make a data file of another partition readable)', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [commitInfo(100), protocolV1, metaData(['p']), add('p=1/a.parquet', { p: '1' })])
      .commit(1, [commitInfo(200), add('p=2/b.parquet', { p: '2' })])
      .commit(2, [
        commitInfo(300),
        removeAt('p=2/b.parquet', 290, { p: '2' }),
        cdc('p=2/b.parquet', { p: '1' }),
        cdc('p=2/other.parquet', { p: '1' }),
        cdc('_change_data/p=1/c2.parquet', { p: '1' }),
      ]);
    const h = await historyOf(s);
    expect(record(h, 'p=2/b.parquet')).toEqual([{ values: ['2'], deletedAt: 290, version: 2 }]);
    expect(h.recordsOf('p=2/other.parquet')).toEqual([]);
    expect(record(h, '_change_data/p=1/c2.parquet')).toEqual([
      { values: ['1'], deletedAt: CHANGE_DATA, version: 2 },
    ]);
  });

  it('takes the partition values of a remove that carries none from the add that introduced it', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [protocolV1, metaData(['p']), add('p=1/a.parquet', { p: '1' })])
      .commit(1, [removeAt('p=1/a.parquet', 10)])
      .commit(2, [removeAt('p=9/never-added.parquet', 20)]);
    const h = await historyOf(s);
    expect(record(h, 'p=1/a.parquet')).toEqual([{ values: ['1'], deletedAt: 10, version: 1 }]);
    // A path no retained version added stays unknown (refused).
    expect(h.recordsOf('p=9/never-added.parquet')).toEqual([]);
  });

  it('falls back to the commit timestamp when a remove has no deletionTimestamp', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [protocolV1, metaData([]), add('a.parquet')])
      .commit(1, [{ remove: { path: 'a.parquet', dataChange: true } }, commitInfo(777)]);
    expect((await historyOf(s)).recordsOf('a.parquet')).toEqual([{ tuple: 0, deletedAt: 777, version: 1 }]);
  });

  it('reads the oldest retained checkpoint’s tombstones, and finds a values-less remove’s add in it', async () => {
    const s = new MemoryDeltaStorage();
    await checkpoint(
      s,
      3,
      ['p'],
      [addFile('p=1/keep.parquet', { p: '1' }), addFile('p=2/old.parquet', { p: '2' })],
      [
        { path: 'p=1/tomb.parquet', deletionTimestamp: 50, partitionValues: { p: '1' } },
        // A tombstone without partition values whose add predates the retained log: unknown.
        { path: 'p=3/mystery.parquet', deletionTimestamp: 51 },
      ],
    );
    s.commit(3, [commitInfo(60)])
      .commit(4, [commitInfo(70), removeAt('p=2/old.parquet', 70)])
      .commit(5, [commitInfo(80), cdc('_change_data/p=1/c5.parquet', { p: '1' })]);
    const h = await historyOf(s);
    expect([h.oldestVersion, h.info.tombstones]).toEqual([3, 2]);
    expect(record(h, 'p=1/tomb.parquet')).toEqual([{ values: ['1'], deletedAt: 50, version: 3 }]);
    expect(h.recordsOf('p=3/mystery.parquet')).toEqual([]);
    expect(record(h, 'p=2/old.parquet')).toEqual([{ values: ['2'], deletedAt: 70, version: 4 }]);
    expect(record(h, '_change_data/p=1/c5.parquet')).toEqual([
      { values: ['1'], deletedAt: CHANGE_DATA, version: 5 },
    ]);
  });

  it('knows the deletion-vector file of a removed file, in each owner’s partition', async () => {
    const dv = (z: string) => ({
      storageType: 'u',
      pathOrInlineDv: z,
      offset: 1,
      sizeInBytes: 10,
      cardinality: 1,
    });
    const shared = 'abvQdXcdHrwH1RwKM(Lw4W'; // prefix "ab" + 20 Z85 characters
    const s = new MemoryDeltaStorage()
      .commit(0, [protocolV1, metaData(['p']), add('p=1/a.parquet', { p: '1' }, dv(shared))])
      .commit(1, [add('p=2/b.parquet', { p: '2' }, dv(shared))])
      .commit(2, [removeAt('p=1/a.parquet', 5, { p: '1' }, dv(shared))]);
    const snap = await loadSnapshot(s, { tableUri });
    const h = await loadHistory(s, snap);
    let file = '';
    h.forEachFile((p) => {
      if (p.includes('deletion_vector_')) file = p;
    });
    expect(file).toMatch(/^ab\/deletion_vector_[0-9a-f-]{36}\.bin$/);
    // The snapshot still knows it through b (partition 2); history adds a's partition 1.
    expect(snap.tuplesOf(file).map((t) => snap.tupleValues(t))).toEqual([['2']]);
    expect(record(h, file)).toEqual([{ values: ['1'], deletedAt: 5, version: 2 }]);
  });

  it('forgets what came before a change of the partition columns', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [protocolV1, metaData(['p']), add('p=1/a.parquet', { p: '1' })])
      .commit(1, [removeAt('p=1/a.parquet', 5, { p: '1' }), cdc('_change_data/p=1/c.parquet', { p: '1' })])
      .commit(2, [metaData(['q']), add('q=1/b.parquet', { q: '1' })])
      .commit(3, [removeAt('q=1/b.parquet', 9, { q: '1' })]);
    const h = await historyOf(s);
    expect(h.partitionColumns.map((c) => c.physical)).toEqual(['q']);
    expect(h.recordsOf('p=1/a.parquet')).toEqual([]);
    expect(h.recordsOf('_change_data/p=1/c.parquet')).toEqual([]);
    expect(record(h, 'q=1/b.parquet')).toEqual([{ values: ['1'], deletedAt: 9, version: 3 }]);
  });

  it('refuses partition values keyed by a column the table does not have', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [protocolV1, metaData(['p']), add('p=1/a.parquet', { p: '1' })])
      .commit(1, [removeAt('x=1/odd.parquet', 5, { x: '1' })]);
    expect((await historyOf(s)).recordsOf('x=1/odd.parquet')).toEqual([]);
  });

  it('refuses partition values that are no serialized value (a number, an array), as the snapshot does', async () => {
    // String() would read ["1"] and 1 as "1": a broken or hostile writer's remove would place its
    // file in partition 1 (and a change-data file likewise).
    const odd = (v: unknown) => ({
      remove: { path: 'p=1/a.parquet', deletionTimestamp: 5, dataChange: true, partitionValues: { p: v } },
    });
    for (const value of [['1'], 1, true, { v: '1' }]) {
      const s = new MemoryDeltaStorage()
        .commit(0, [protocolV1, metaData(['p'])])
        .commit(1, [
          odd(value),
          { cdc: { path: '_change_data/c.parquet', partitionValues: { p: value }, size: 1 } },
        ]);
      const h = await historyOf(s);
      expect([value, h.recordsOf('p=1/a.parquet'), h.recordsOf('_change_data/c.parquet')]).toEqual([
        value,
        [],
        [],
      ]);
    }
  });

  it('reads each retained commit once, a window ahead, and the log listing once', async () => {
    const s = new MemoryDeltaStorage().commit(0, [protocolV1, metaData(['p'])]);
    for (let i = 1; i <= 40; i++) s.commit(i, [add(`p=${i % 3}/f${i}.parquet`, { p: String(i % 3) })]);
    const snap = await loadSnapshot(s, { tableUri });
    s.reads = [];
    s.lists = 0;
    const h = await loadHistory(s, snap);
    expect(s.lists).toBe(1);
    expect(s.reads.length).toBe(41);
    expect(new Set(s.reads).size).toBe(41);
    expect(h.info.logFilesRead).toBe(41);
  });
});

describe('loadRecentHistory', () => {
  it('reads only the newest checkpoint’s tombstones and the commits after it', async () => {
    const s = new MemoryDeltaStorage().commit(0, [protocolV1, metaData(['p'])]);
    for (let i = 1; i <= 20; i++) s.commit(i, [add(`p=1/f${i}.parquet`, { p: '1' })]);
    s.commit(21, [
      removeAt('p=1/f1.parquet', 7, { p: '1' }),
      cdc('_change_data/p=1/c21.parquet', { p: '1' }),
    ]);
    await checkpoint(
      s,
      21,
      ['p'],
      Array.from({ length: 19 }, (_, i) => addFile(`p=1/f${i + 2}.parquet`, { p: '1' })),
      [{ path: 'p=1/f1.parquet', deletionTimestamp: 7, partitionValues: { p: '1' } }],
    );
    s.put('_delta_log/_last_checkpoint', JSON.stringify({ version: 21, size: 21 }));
    s.commit(22, [removeAt('p=1/f2.parquet', 8, { p: '1' })]);
    const snap = await loadSnapshot(s, { tableUri });
    s.reads = [];
    const h = await loadRecentHistory(s, snap);
    expect([h.complete, h.version, h.info.outcome, h.info.tombstones]).toEqual([false, 22, 'recent', 1]);
    expect(s.reads.filter((r) => r.endsWith('.json'))).toEqual(['_delta_log/00000000000000000022.json']);
    expect(record(h, 'p=1/f1.parquet')).toEqual([{ values: ['1'], deletedAt: 7, version: 21 }]);
    expect(record(h, 'p=1/f2.parquet')).toEqual([{ values: ['1'], deletedAt: 8, version: 22 }]);
    // Change data of commit 21 is only in the commit: the recent history does not know it.
    expect(h.recordsOf('_change_data/p=1/c21.parquet')).toEqual([]);
    const full = await loadHistory(s, snap);
    expect(full.complete).toBe(true);
    expect(full.recordsOf('_change_data/p=1/c21.parquet').length).toBe(1);
  });

  it('is the complete history for a table without a checkpoint', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [protocolV1, metaData(['p']), add('p=1/a.parquet', { p: '1' })])
      .commit(1, [removeAt('p=1/a.parquet', 5, { p: '1' })]);
    const h = await loadRecentHistory(s, await loadSnapshot(s, { tableUri }));
    expect([h.complete, h.info.outcome]).toEqual([true, 'loaded']);
  });
});

describe('completeHistory (from a recent one)', () => {
  async function tableWithOldChangeData() {
    // v0..v2 partitioned by q (their change data belongs to another partitioning), v3 changes to
    // p (listing its change data before its metaData: the commit counts as a whole), v4..v5 write
    // change data, v6 is checkpointed, v7 follows it.
    const s = new MemoryDeltaStorage()
      .commit(0, [protocolV1, metaData(['q']), add('q=1/a.parquet', { q: '1' })])
      .commit(1, [cdc('_change_data/q=1/c1.parquet', { q: '1' })])
      .commit(2, [
        metaData(['q'], { configuration: { x: '1' } }),
        cdc('_change_data/q=1/c2.parquet', { q: '1' }),
      ])
      .commit(3, [
        cdc('_change_data/p=1/c3.parquet', { p: '1' }),
        metaData(['p']),
        add('p=1/b.parquet', { p: '1' }),
      ])
      .commit(4, [
        cdc('_change_data/p=2/c4.parquet', { p: '2' }),
        { cdc: { path: 'p=1/b.parquet', partitionValues: { p: '2' }, size: 1 } },
      ])
      .commit(5, [
        cdc('_change_data/p=1/c5.parquet', { p: '1' }),
        metaData(['p'], { configuration: { y: '1' } }),
      ])
      .commit(6, [removeAt('p=1/b.parquet', 60, { p: '1' }), add('p=1/d.parquet', { p: '1' })]);
    await checkpoint(
      s,
      6,
      ['p'],
      [addFile('p=1/d.parquet', { p: '1' })],
      [{ path: 'p=1/b.parquet', deletionTimestamp: 60, partitionValues: { p: '1' } }],
    );
    s.put('_delta_log/_last_checkpoint', JSON.stringify({ version: 6, size: 2 }));
    s.commit(7, [cdc('_change_data/p=1/c7.parquet', { p: '1' })]);
    return s;
  }

  it('adds the change data of the commits up to the newest checkpoint, as a full load knows it', async () => {
    const s = await tableWithOldChangeData();
    const snap = await loadSnapshot(s, { tableUri });
    const recent = await loadRecentHistory(s, snap);
    s.reads = [];
    const h = await completeHistory(recent, s, snap);
    // Commits 0..6 once each; the recent history's records are not read again.
    expect(s.reads.filter((r) => r.endsWith('.json')).sort()).toEqual(
      Array.from({ length: 7 }, (_, v) => commitKey(v)),
    );
    const full = await loadHistory(s, snap);
    expect([h.complete, h.version, h.oldestVersion]).toEqual([true, full.version, full.oldestVersion]);
    const paths = [
      '_change_data/q=1/c1.parquet',
      '_change_data/q=1/c2.parquet',
      '_change_data/p=1/c3.parquet',
      '_change_data/p=2/c4.parquet',
      '_change_data/p=1/c5.parquet',
      '_change_data/p=1/c7.parquet',
      'p=1/b.parquet',
      'p=1/a.parquet',
    ];
    for (const path of paths) expect([path, record(h, path)]).toEqual([path, record(full, path)]);
    expect(record(h, '_change_data/p=1/c3.parquet')).toEqual([
      { values: ['1'], deletedAt: CHANGE_DATA, version: 3 },
    ]);
    expect(record(h, '_change_data/p=1/c5.parquet')).toEqual([
      { values: ['1'], deletedAt: CHANGE_DATA, version: 5 },
    ]);
    expect(h.recordsOf('_change_data/q=1/c1.parquet')).toEqual([]);
  });

  it('fails on a damaged older commit rather than skipping it', async () => {
    const s = await tableWithOldChangeData();
    const snap = await loadSnapshot(s, { tableUri });
    const recent = await loadRecentHistory(s, snap);
    s.put('_delta_log/00000000000000000004.json', '{"cdc":{"path":"_change_data/p=2/c4.par');
    await expect(completeHistory(recent, s, snap)).rejects.toThrow(/not a JSON object/);
  });
});

describe('updateHistory', () => {
  it('reads only the new commits and leaves the previous history intact', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [
        protocolV1,
        metaData(['p']),
        add('p=1/a.parquet', { p: '1' }),
        add('p=1/b.parquet', { p: '1' }),
      ])
      .commit(1, [removeAt('p=1/a.parquet', 5, { p: '1' })]);
    const snap1 = await loadSnapshot(s, { tableUri });
    const h1 = await loadHistory(s, snap1);
    s.commit(2, [removeAt('p=1/b.parquet', 6, { p: '1' }), cdc('_change_data/p=1/c2.parquet', { p: '1' })]);
    const snap2 = await loadSnapshot(s, { tableUri });
    s.reads = [];
    const h2 = await updateHistory(h1, s, snap2);
    expect(s.reads).toEqual(['_delta_log/00000000000000000002.json']);
    expect([h2.version, h2.info.outcome]).toEqual([2, 'updated']);
    expect(record(h2, 'p=1/b.parquet')).toEqual([{ values: ['1'], deletedAt: 6, version: 2 }]);
    expect(record(h2, 'p=1/a.parquet')).toEqual([{ values: ['1'], deletedAt: 5, version: 1 }]);
    expect(h2.recordsOf('_change_data/p=1/c2.parquet').length).toBe(1);
    expect(h1.recordsOf('p=1/b.parquet')).toEqual([]);
    expect(h1.recordsOf('_change_data/p=1/c2.parquet')).toEqual([]);
    expect(await updateHistory(h2, s, snap2)).toBe(h2);
  });

  it('drops change data of commits cleaned up after a new checkpoint, forgets removes once expired', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [protocolV1, metaData(['p']), add('p=1/a.parquet', { p: '1' })])
      .commit(1, [cdc('_change_data/p=1/c1.parquet', { p: '1' }), removeAt('p=1/a.parquet', 5, { p: '1' })])
      .commit(2, [cdc('_change_data/p=1/c2.parquet', { p: '1' })]);
    const h1 = await historyOf(s);
    expect(h1.recordsOf('_change_data/p=1/c1.parquet').length).toBe(1);
    s.commit(3, [cdc('_change_data/p=1/c3.parquet', { p: '1' })]);
    await checkpoint(
      s,
      3,
      ['p'],
      [],
      [{ path: 'p=1/a.parquet', deletionTimestamp: 5, partitionValues: { p: '1' } }],
    );
    // Log cleanup after the checkpoint: commits 0-2 are gone.
    for (const n of [0, 1, 2]) s.files.delete(commitKey(n));
    const h2 = await updateHistory(
      h1,
      s,
      await loadSnapshot(s, { tableUri }),
      5 + DEFAULT_DELETED_FILE_RETENTION_MS - 1,
    );
    expect([h2.oldestVersion, h2.info.outcome]).toEqual([3, 'updated']);
    expect(h2.recordsOf('_change_data/p=1/c1.parquet')).toEqual([]);
    expect(h2.recordsOf('_change_data/p=1/c2.parquet')).toEqual([]);
    expect(h2.recordsOf('_change_data/p=1/c3.parquet').length).toBe(1);
    expect(record(h2, 'p=1/a.parquet')).toEqual([{ values: ['1'], deletedAt: 5, version: 1 }]);
    // At the next checkpoint after the remove's retention has passed, it is forgotten.
    s.commit(4, [add('p=1/z.parquet', { p: '1' })]);
    await checkpoint(s, 4, ['p'], [addFile('p=1/z.parquet', { p: '1' })], []);
    const later = 5 + DEFAULT_DELETED_FILE_RETENTION_MS;
    const h3 = await updateHistory(h2, s, await loadSnapshot(s, { tableUri }), later);
    expect(h3.recordsOf('p=1/a.parquet')).toEqual([]);
    expect(h3.recordsOf('_change_data/p=1/c3.parquet').length).toBe(1);
    expect(h2.recordsOf('p=1/a.parquet').length).toBe(1);
  });

  it('rebuilds when a new remove carries no partition values of a file the new commits did not add', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [protocolV1, metaData(['p']), add('p=1/a.parquet', { p: '1' })])
      .commit(1, [add('p=2/b.parquet', { p: '2' })]);
    const h1 = await historyOf(s);
    s.commit(2, [removeAt('p=1/a.parquet', 5)]);
    const h2 = await updateHistory(h1, s, await loadSnapshot(s, { tableUri }));
    expect(h2.info.outcome).toBe('loaded');
    expect(record(h2, 'p=1/a.parquet')).toEqual([{ values: ['1'], deletedAt: 5, version: 2 }]);
  });
});
