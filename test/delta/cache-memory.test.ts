/**
 * Memory a long-lived snapshot cache keeps must stay within what it accounts for and bounded by
 * the live table: change data and partition tuples gathered over many incremental refreshes are
 * dropped at the next checkpoint once they outgrow the live files, and the per-caller allowed-sets
 * and folder indexes built for a snapshot count in its estimate (and so in `snapshotCacheBytes`).
 * (bench/churn.ts measures the heap over 10,000 refreshes.)
 */
import { describe, expect, it } from 'vitest';
import { AllowedSetCache } from '../../lambda/access/allowed-set-cache';
import { folderIndexOf } from '../../lambda/delta/folder-index';
import { loadSnapshot, refreshSnapshot } from '../../lambda/delta/load-snapshot';
import type { Snapshot } from '../../lambda/delta/snapshot';
import { SnapshotCache } from '../../lambda/delta/snapshot-cache';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import { add, MemoryDeltaStorage, metaData, protocolV1, remove } from '../helpers/delta-memory-storage';

const tableUri = 's3://bucket/t';
const meta = metaData(['p']).metaData;

async function checkpointAt(s: MemoryDeltaStorage, version: number, files: string[]): Promise<void> {
  await writeCheckpoint(
    { put: async (rel, bytes) => void s.put(rel, bytes) },
    version,
    protocolV1.protocol,
    meta,
    files.map((path) => ({
      path,
      partitionValues: { p: path.slice(2, path.indexOf('/')) },
      size: 1,
      modificationTime: 0,
      dataChange: false,
    })),
  );
}

describe('incremental refresh over many commits', () => {
  it('drops change data of old commits at the next checkpoint once it outgrows the live files', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      protocolV1,
      metaData(['p']),
      add('p=a/f.parquet', { p: 'a' }),
    ]);
    let snap: Snapshot = await loadSnapshot(s, { tableUri });
    for (let v = 1; v <= 1100; v++) {
      s.commit(v, [
        {
          cdc: {
            path: `_change_data/c${v}.parquet`,
            partitionValues: { p: 'a' },
            size: 1,
            dataChange: false,
          },
        },
      ]);
      snap = (await refreshSnapshot(snap, s, { tableUri })).snapshot;
    }
    expect(snap.fileCount - snap.activeFileCount).toBe(1100);
    await checkpointAt(s, 1101, ['p=a/f.parquet']);
    s.commit(1101, []);
    s.commit(1102, [
      {
        cdc: { path: '_change_data/c1102.parquet', partitionValues: { p: 'a' }, size: 1, dataChange: false },
      },
    ]);
    const r = await refreshSnapshot(snap, s, { tableUri });
    expect(r.outcome).toBe('rebuilt');
    expect(r.snapshot.fileCount - r.snapshot.activeFileCount).toBe(1);
    expect(r.snapshot.estimatedBytes).toBeLessThan(snap.estimatedBytes);
  });

  it('drops partition tuples no file uses any more at the next checkpoint once they outgrow the live ones', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      protocolV1,
      metaData(['p']),
      add('p=0/f.parquet', { p: '0' }),
    ]);
    let snap: Snapshot = await loadSnapshot(s, { tableUri });
    for (let v = 1; v <= 1100; v++) {
      s.commit(v, [remove(`p=${v - 1}/f.parquet`), add(`p=${v}/f.parquet`, { p: String(v) })]);
      snap = (await refreshSnapshot(snap, s, { tableUri })).snapshot;
    }
    expect(snap.tupleCount).toBe(1101);
    await checkpointAt(s, 1101, ['p=1100/f.parquet']);
    s.commit(1101, []);
    s.commit(1102, [add('p=x/g.parquet', { p: 'x' })]);
    const r = await refreshSnapshot(snap, s, { tableUri });
    expect(r.outcome).toBe('rebuilt');
    expect(r.snapshot.tupleCount).toBe(2);
  });
});

describe('what is built for a snapshot counts in its estimate', () => {
  it('counts per-caller allowed-sets and the folder index in the cache bytes', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      protocolV1,
      metaData(['p']),
      ...Array.from({ length: 2000 }, (_, i) => add(`p=${i % 200}/f${i}.parquet`, { p: String(i % 200) })),
    ]);
    const cache = new SnapshotCache({ ttlMs: 60_000, maxBytes: 1e12, clock: { now: () => 0 } });
    const snap = await cache.get('t', s, tableUri);
    const before = cache.stats().bytes;
    const sets = new AllowedSetCache();
    for (let k = 0; k < 200; k++)
      await (await sets.get(`caller-${k}`, 't', snap, [{ p: String(k) }])).readableFolders();
    const grown = cache.stats().bytes - before;
    expect(sets.bytesFor(snap)).toBeGreaterThan(200 * 200); // each set: a byte per tuple and more
    expect(grown).toBeGreaterThanOrEqual(sets.bytesFor(snap));
  });

  it('keeps the total equal to a recount as sets are added, built, grow and go', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      protocolV1,
      metaData(['p']),
      ...Array.from({ length: 400 }, (_, i) => add(`p=${i % 40}/f${i}.parquet`, { p: String(i % 40) })),
    ]);
    let now = 0;
    const cache = new SnapshotCache({ ttlMs: 1_000, maxBytes: 1e12, clock: { now: () => now } });
    const snap = await cache.get('t', s, tableUri);
    const stateBytes = cache.bytes;
    expect(stateBytes).toBe(snap.estimatedBytes);
    // 16 sets at most per snapshot: the older callers' sets are evicted as the newer come.
    const sets = new AllowedSetCache(16);
    const pending = [];
    for (let k = 0; k < 40; k++) {
      const set = sets.get(`caller-${k}`, 't', snap, [{ p: String(k) }]);
      // Half of them list (their readable folders count from then on), some while others build.
      if (k % 2) pending.push(set.then((a) => a.readableFolders()));
      if (k % 5 === 0) await set;
    }
    await Promise.all(pending);
    // A caller whose grants changed: its set is replaced.
    await sets.get('caller-39', 't', snap, [{ p: '1' }, { p: '2' }]);
    const folderBytes = (await folderIndexOf(snap)).bytes;
    expect(sets.sizeFor(snap)).toBe(16);
    expect(cache.bytes).toBe(stateBytes + sets.bytesFor(snap) + folderBytes);
    expect(cache.stats().bytes).toBe(cache.bytes);

    // A refresh replaces the snapshot: what is built for the old one no longer counts.
    s.commit(1, [add('p=new/g.parquet', { p: 'new' })]);
    now = 2_000;
    const next = await cache.get('t', s, tableUri);
    expect(next).not.toBe(snap);
    await (await sets.get('caller-late', 't', snap, [{ p: '3' }])).readableFolders();
    expect(cache.bytes).toBe(next.estimatedBytes);
    await (await sets.get('caller-0', 't', next, [{ p: '0' }])).readableFolders();
    expect(cache.bytes).toBe(next.estimatedBytes);
    expect(cache.bytes).toBeGreaterThan(stateBytes + sets.bytesFor(next));
    cache.invalidate('t');
    expect(cache.bytes).toBe(0);
  });
});
