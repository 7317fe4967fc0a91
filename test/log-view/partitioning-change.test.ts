/**
 * SECURITY gap 17, the filtered log's side: a table whose partitioning changed (a partition
 * column's type under the same name, `p STRING` -> `p INT`; or `a` -> none -> `a`). GET refuses the
 * files of the older partitioning to a partition grant (test/access/partition-type-change.test.ts);
 * the filtered `_delta_log/` must not list them (names, stats) at the versions before the change,
 * in commits or checkpoints, also when the change is older than the newest checkpoint and when a
 * file was generated before the change was known; nor, after the change, the removes of a file of
 * the older partitioning (a checkpoint's tombstones, a later remove of a file added before it).
 */
import { describe, expect, it } from 'vitest';
import { fileGrantOf } from '../../lambda/access/file-grant';
import { SnapshotCache } from '../../lambda/delta/snapshot-cache';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import { FilteredLogView } from '../../lambda/log-view/filtered-log-view';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import { addAction, commitKey, field, metaData, protocolV1, removeAction } from '../helpers/log-text';
import { checkAgreement } from '../helpers/view-agreement';

const asString = metaData(['p'], { schema: [field('p', 'string')] });
const asInt = metaData(['p'], { schema: [field('p', 'integer')] });
const byA = metaData(['a']);
const unpartitioned = metaData([], { schema: [field('a', 'string')] });

const removed = (path: string, pv: Record<string, string>) =>
  removeAction(path, { partitionValues: pv, deletionTimestamp: 5 });

/** v0 `p STRING`: "1" and "01"; v1 REPLACE as `p INT`: both removed, c added in 1. */
function typeChange(): MemoryDeltaStorage {
  return new MemoryDeltaStorage()
    .commit(0, [
      { commitInfo: { timestamp: 1 } },
      protocolV1,
      asString,
      addAction('p=1/a.parquet', { p: '1' }),
      addAction('p=01/b.parquet', { p: '01' }),
    ])
    .commit(1, [
      { commitInfo: { timestamp: 2 } },
      asInt,
      removed('p=1/a.parquet', { p: '1' }),
      removed('p=01/b.parquet', { p: '01' }),
      addAction('p=1/c.parquet', { p: '1' }),
    ]);
}

/** v0 by `a` (x, y); v1 unpartitioned (u); v2 by `a` again (x/h). */
function aNoneA(): MemoryDeltaStorage {
  return new MemoryDeltaStorage()
    .commit(0, [
      { commitInfo: { timestamp: 1 } },
      protocolV1,
      byA,
      addAction('a=x/f.parquet', { a: 'x' }),
      addAction('a=y/g.parquet', { a: 'y' }),
    ])
    .commit(1, [
      { commitInfo: { timestamp: 2 } },
      unpartitioned,
      removed('a=x/f.parquet', { a: 'x' }),
      removed('a=y/g.parquet', { a: 'y' }),
      addAction('u.parquet', {}),
    ])
    .commit(2, [
      { commitInfo: { timestamp: 3 } },
      byA,
      removed('u.parquet', {}),
      addAction('a=x/h.parquet', { a: 'x' }),
    ]);
}

const put = (s: MemoryDeltaStorage) => ({ put: async (rel: string, b: Uint8Array) => void s.put(rel, b) });
const file = (path: string, partitionValues: Record<string, string>) => ({
  path,
  partitionValues,
  size: 1,
  modificationTime: 0,
  dataChange: false,
});

/** The filtered log of `s` for a grant, on a snapshot loaded once (no refresh). */
async function viewOf(s: MemoryDeltaStorage, partitions: Record<string, string>[]) {
  const uri = 's3://bucket/t';
  const snapshots = new SnapshotCache({ ttlMs: 1e12, maxBytes: 1 << 26, clock: { now: () => 0 } });
  const snapshot = await snapshots.get(uri, s, uri);
  const view = new FilteredLogView({ budgetBytes: () => 1 << 24 });
  const req = {
    tableUri: uri,
    storage: s,
    snapshot,
    grant: fileGrantOf(snapshot.partitionColumns, partitions),
  };
  return { object: (key: string) => view.object(req, key) };
}

/** Reads that take a few milliseconds, as a round trip to S3 does; `inFlight` counts those at once. */
function slowReads(s: MemoryDeltaStorage, seen: (path: string, inFlight: number) => void): void {
  let inFlight = 0;
  const read = s.read.bind(s);
  s.read = async (path, range) => {
    seen(path, ++inFlight);
    try {
      await new Promise((r) => setTimeout(r, 3));
      return await read(path, range);
    } finally {
      inFlight--;
    }
  };
}

/** 121 commits by `a`, one file each; `extra` adds actions to a version's commit. */
function longLog(extra: Record<number, object[]> = {}): MemoryDeltaStorage {
  const s = new MemoryDeltaStorage().commit(0, [
    { commitInfo: { timestamp: 1 } },
    protocolV1,
    byA,
    addAction('a=x/0.parquet', { a: 'x' }),
  ]);
  for (let v = 1; v <= 120; v++)
    s.commit(v, [
      { commitInfo: { timestamp: v + 1 } },
      ...(extra[v] ?? []),
      addAction(`a=x/${v}.parquet`, { a: 'x' }),
    ]);
  return s;
}

const text = (o: { body: Uint8Array } | undefined) => new TextDecoder().decode(o!.body);

describe('the filtered log of a table whose partitioning changed', () => {
  it('p STRING -> p INT: a grant of p=1 is not shown the "01" file at version 0', async () => {
    const r = await checkAgreement(typeChange(), [{ p: '1' }], 10);
    expect(r.namedButRefused).toEqual([]);
    expect(r.text).not.toContain('p=01/b.parquet');
    expect(r.at.get(1)).toEqual(['p=1/c.parquet']);
  });

  it('p STRING -> p INT with checkpoints before and after the change (the change older than the newest)', async () => {
    const s = typeChange();
    await writeCheckpoint(put(s), 0, protocolV1.protocol, asString.metaData, [
      file('p=1/a.parquet', { p: '1' }),
      file('p=01/b.parquet', { p: '01' }),
    ]);
    s.commit(2, [{ commitInfo: { timestamp: 3 } }, addAction('p=01/d.parquet', { p: '01' })]);
    await writeCheckpoint(put(s), 2, protocolV1.protocol, asInt.metaData, [
      file('p=1/c.parquet', { p: '1' }),
      file('p=01/d.parquet', { p: '01' }),
    ]);
    s.commit(3, [{ commitInfo: { timestamp: 4 } }]);
    const r = await checkAgreement(s, [{ p: '1' }], 10);
    expect(r.namedButRefused).toEqual([]);
    expect(r.text).not.toContain('p=01/b.parquet');
    // "01" under INT is partition 1: the file added after the change is shown.
    expect(r.at.get(3)).toEqual(['p=01/d.parquet', 'p=1/c.parquet']);
  });

  it('a -> none -> a: a grant of a=x is not shown the files of the first partitioning', async () => {
    const r = await checkAgreement(aNoneA(), [{ a: 'x' }], 10);
    expect(r.namedButRefused).toEqual([]);
    expect(r.text).not.toContain('a=x/f.parquet');
    expect(r.at.get(2)).toEqual(['a=x/h.parquet']);
  });

  it('a whole-table grant is not shown them either: the proxy refuses them to it too', async () => {
    const r = await checkAgreement(aNoneA(), [{}], 10);
    expect(r.namedButRefused).toEqual([]);
    expect(r.at.get(0)).toEqual([]);
    expect(r.at.get(2)).toEqual(['a=x/h.parquet']);
  });

  it('a commit generated before the change was known is not served after it', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      { commitInfo: { timestamp: 1 } },
      protocolV1,
      byA,
      addAction('a=x/f.parquet', { a: 'x' }),
    ]);
    const uri = 's3://bucket/t';
    const snapshots = new SnapshotCache({ ttlMs: 0, maxBytes: 1 << 26, clock: { now: () => Date.now() } });
    const view = new FilteredLogView({ budgetBytes: () => 1 << 24 });
    const read = async () => {
      const snapshot = await snapshots.get(uri, s, uri);
      const req = {
        tableUri: uri,
        storage: s,
        snapshot,
        grant: fileGrantOf(snapshot.partitionColumns, [{ a: 'x' }]),
      };
      const o = await view.object(req, commitKey(0));
      return new TextDecoder().decode(o!.body);
    };
    expect(await read()).toContain('a=x/f.parquet'); // readable then
    s.commit(1, [{ commitInfo: { timestamp: 2 } }, unpartitioned, removed('a=x/f.parquet', { a: 'x' })]);
    s.commit(2, [{ commitInfo: { timestamp: 3 } }, byA, addAction('a=x/h.parquet', { a: 'x' })]);
    expect(await read()).not.toContain('a=x/f.parquet');
  });
});

describe('finding where the newest partitioning starts', () => {
  it('reads no commit before the newest checkpoint when the table is read at its newest version', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      { commitInfo: { timestamp: 1 } },
      protocolV1,
      byA,
      addAction('a=x/0.parquet', { a: 'x' }),
    ]);
    for (let v = 1; v <= 30; v++)
      s.commit(v, [{ commitInfo: { timestamp: v + 1 } }, addAction(`a=x/${v}.parquet`, { a: 'x' })]);
    const files = Array.from({ length: 26 }, (_, v) => file(`a=x/${v}.parquet`, { a: 'x' }));
    await writeCheckpoint(put(s), 25, protocolV1.protocol, byA.metaData, files);
    // A schema change after the checkpoint, same partitioning: the checkpoint's metaData decides.
    s.commit(31, [
      { commitInfo: { timestamp: 40 } },
      metaData(['a'], { schema: [field('a', 'string'), field('w', 'long')] }),
    ]);
    const view = await viewOf(s, [{ a: 'x' }]);
    s.reads = [];
    const keys = ['_delta_log/_last_checkpoint', '_delta_log/00000000000000000025.checkpoint.parquet'];
    for (let v = 26; v <= 31; v++) keys.push(commitKey(v));
    for (const k of keys) expect(await view.object(k)).toBeDefined();
    const older = s.reads.filter((p) => /\d{20}\.json$/.test(p) && Number(p.slice(-25, -5)) < 26);
    expect(older).toEqual([]);
    // Not hidden: every file of the checkpoint is shown.
    const hint = await view.object('_delta_log/_last_checkpoint');
    expect(JSON.parse(text(hint)).numOfAddFiles).toBe(26);
  });
});

describe('a time-travel read far below the newest version', () => {
  it('reads the commits above it several at a time, not one round trip after another', async () => {
    const s = longLog();
    let most = 0;
    slowReads(s, (_path, inFlight) => {
      most = Math.max(most, inFlight);
    });
    const view = await viewOf(s, [{ a: 'x' }]);
    most = 0;
    expect(text(await view.object(commitKey(0)))).toContain('a=x/0.parquet');
    expect(most).toBeGreaterThanOrEqual(8);
  });

  it('reads several at a time also below it, down to what settles a metaData above it', async () => {
    // A metaData at 100 that keeps the partitioning (one column more), no checkpoint: a read at 90
    // needs the partitioning below 100, which only commit 0 settles.
    const s = longLog({ 100: [metaData(['a'], { schema: [field('a', 'string'), field('w', 'long')] })] });
    let mostBelow = 0;
    slowReads(s, (path, inFlight) => {
      const m = /(\d{20})\.json$/.exec(path);
      if (m && Number(m[1]) < 90) mostBelow = Math.max(mostBelow, inFlight);
    });
    const view = await viewOf(s, [{ a: 'x' }]);
    mostBelow = 0;
    expect(text(await view.object(commitKey(90)))).toContain('a=x/90.parquet');
    expect(mostBelow).toBeGreaterThanOrEqual(8);
  });
});

describe('removes after a change of partitioning, of a file of the older one', () => {
  // The two checkpoint cases held before this fix too (a filtered checkpoint leaves its
  // tombstones out, filtered-checkpoint.ts): kept so that stays so.
  it('p STRING -> p INT: a checkpoint after the change does not show the tombstone of "01" to p=1', async () => {
    const s = typeChange().commit(2, [
      { commitInfo: { timestamp: 3 } },
      addAction('p=1/d.parquet', { p: '1' }),
    ]);
    await writeCheckpoint(
      put(s),
      2,
      protocolV1.protocol,
      asInt.metaData,
      [file('p=1/c.parquet', { p: '1' }), file('p=1/d.parquet', { p: '1' })],
      {
        removes: [
          { path: 'p=1/a.parquet', deletionTimestamp: 5, partitionValues: { p: '1' }, size: 1 },
          { path: 'p=01/b.parquet', deletionTimestamp: 5, partitionValues: { p: '01' }, size: 1 },
        ],
      },
    );
    s.commit(3, [{ commitInfo: { timestamp: 4 } }]);
    const r = await checkAgreement(s, [{ p: '1' }], 10);
    expect(r.namedButRefused).toEqual([]);
    expect(r.text).not.toContain('p=01/b.parquet');
  });

  it('a -> none -> a: a checkpoint after the second change does not show the first a=x tombstone', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [{ commitInfo: { timestamp: 1 } }, protocolV1, byA, addAction('a=x/f.parquet', { a: 'x' })])
      .commit(1, [
        { commitInfo: { timestamp: 2 } },
        unpartitioned,
        removed('a=x/f.parquet', { a: 'x' }),
        addAction('u.parquet', {}),
      ])
      .commit(2, [
        { commitInfo: { timestamp: 3 } },
        byA,
        removed('u.parquet', {}),
        addAction('a=x/h.parquet', { a: 'x' }),
      ]);
    await writeCheckpoint(put(s), 2, protocolV1.protocol, byA.metaData, [file('a=x/h.parquet', { a: 'x' })], {
      removes: [
        { path: 'a=x/f.parquet', deletionTimestamp: 5, partitionValues: { a: 'x' }, size: 1 },
        { path: 'u.parquet', deletionTimestamp: 5, partitionValues: {}, size: 1 },
      ],
    });
    s.commit(3, [{ commitInfo: { timestamp: 4 } }]);
    const r = await checkAgreement(s, [{ a: 'x' }], 10);
    expect(r.namedButRefused).toEqual([]);
    expect(r.text).not.toContain('a=x/f.parquet');
  });

  it('a remove without values after the change, of a file added before it, is not shown', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [
        { commitInfo: { timestamp: 1 } },
        protocolV1,
        asString,
        addAction('p=01/b.parquet', { p: '01' }),
      ])
      .commit(1, [{ commitInfo: { timestamp: 2 } }, asInt, addAction('p=1/c.parquet', { p: '1' })])
      .commit(2, [
        { commitInfo: { timestamp: 3 } },
        removeAction('p=01/b.parquet', { deletionTimestamp: 5 }),
      ]);
    const r = await checkAgreement(s, [{ p: '1' }], 10);
    expect(r.namedButRefused).toEqual([]);
    expect(r.text).not.toContain('p=01/b.parquet');
    expect(r.at.get(2)).toEqual(['p=1/c.parquet']);
  });

  it('a -> none -> a: a remove without values after the second change, of a first a=x file, is not shown', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [{ commitInfo: { timestamp: 1 } }, protocolV1, byA, addAction('a=x/f.parquet', { a: 'x' })])
      .commit(1, [{ commitInfo: { timestamp: 2 } }, unpartitioned, addAction('u.parquet', {})])
      .commit(2, [
        { commitInfo: { timestamp: 3 } },
        byA,
        removed('u.parquet', {}),
        addAction('a=x/h.parquet', { a: 'x' }),
      ])
      .commit(3, [{ commitInfo: { timestamp: 4 } }, removeAction('a=x/f.parquet', { deletionTimestamp: 5 })]);
    const r = await checkAgreement(s, [{ a: 'x' }], 10);
    expect(r.namedButRefused).toEqual([]);
    expect(r.text).not.toContain('a=x/f.parquet');
    expect(r.at.get(3)).toEqual(['a=x/h.parquet']);
  });

  it('a remove without values of a file added after the change is still shown', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [
        { commitInfo: { timestamp: 1 } },
        protocolV1,
        asString,
        addAction('p=01/b.parquet', { p: '01' }),
      ])
      .commit(1, [{ commitInfo: { timestamp: 2 } }, asInt, addAction('p=1/c.parquet', { p: '1' })])
      .commit(2, [{ commitInfo: { timestamp: 3 } }, addAction('p=1/d.parquet', { p: '1' })])
      .commit(3, [{ commitInfo: { timestamp: 4 } }, removeAction('p=1/c.parquet', { deletionTimestamp: 5 })]);
    const r = await checkAgreement(s, [{ p: '1' }], 10);
    expect(r.namedButRefused).toEqual([]);
    expect(r.text).toContain('{"remove":{"path":"p=1/c.parquet"');
    expect(r.at.get(3)).toEqual(['p=1/d.parquet']);
  });

  it('a table whose partitioning never changed reads no commit twice to place such a remove', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      { commitInfo: { timestamp: 1 } },
      protocolV1,
      asInt,
      addAction('p=1/b.parquet', { p: '1' }),
    ]);
    for (let v = 1; v < 20; v++)
      s.commit(v, [{ commitInfo: { timestamp: v + 1 } }, addAction(`p=1/${v}.parquet`, { p: '1' })]);
    s.commit(20, [
      { commitInfo: { timestamp: 30 } },
      removeAction('p=1/b.parquet', { deletionTimestamp: 5 }),
    ]);
    const view = await viewOf(s, [{ p: '1' }]);
    s.reads = [];
    expect(text(await view.object(commitKey(20)))).toContain('{"remove":{"path":"p=1/b.parquet"');
    const older = s.reads.filter((p) => p !== commitKey(20));
    expect(older.length).toBe(20); // each commit 0..19 once, by the lookup
    expect(new Set(older).size).toBe(20);
  });
});
