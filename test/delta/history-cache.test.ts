/**
 * The snapshot cache's history slot: one load for any number of concurrent callers, nothing read
 * again while the snapshot has not moved, only the new commits once it has, a failure answered
 * from memory for a while (a flood cannot turn into log reads), and history bytes in the budget.
 */
import { describe, expect, it } from 'vitest';
import { SnapshotCache } from '../../lambda/delta/snapshot-cache';
import { StorageError } from '../../lambda/storage/storage-backend';
import { add, MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';

const tableUri = 's3://bucket/t';

function fakeClock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function removeAt(path: string, at: number, p: string) {
  return { remove: { path, deletionTimestamp: at, dataChange: true, partitionValues: { p } } };
}

function table(commits = 30): MemoryDeltaStorage {
  const s = new MemoryDeltaStorage().commit(0, [protocolV1, metaData(['p'])]);
  for (let v = 1; v <= commits; v++) {
    s.commit(v, [
      add(`p=${v % 4}/f${v}.parquet`, { p: String(v % 4) }),
      ...(v > 1 ? [removeAt(`p=${(v - 1) % 4}/f${v - 1}.parquet`, v, String((v - 1) % 4))] : []),
    ]);
  }
  return s;
}

describe('SnapshotCache.history', () => {
  it('loads once for a flood of concurrent callers, then reads nothing while the snapshot stays', async () => {
    const clock = fakeClock();
    const cache = new SnapshotCache({ ttlMs: 5_000, maxBytes: 1 << 30, clock });
    const s = table();
    const snap = await cache.get('t', s, tableUri);
    s.reads = [];
    s.lists = 0;
    const all = await Promise.all(Array.from({ length: 1000 }, () => cache.history('t', s, tableUri, snap)));
    expect(new Set(all).size).toBe(1);
    expect([s.lists, s.reads.length]).toEqual([1, 31]);
    for (let i = 0; i < 1000; i++) await cache.history('t', s, tableUri, snap);
    expect([s.lists, s.reads.length]).toEqual([1, 31]);
    expect(cache.stats().history).toMatchObject({ loads: 1, updates: 0, failures: 0, tables: 1 });
    expect(all[0]!.recordsOf('p=1/f29.parquet')).toEqual([
      { tuple: expect.any(Number), deletedAt: 30, version: 30 },
    ]);
  });

  it('reads only the new commits when the snapshot moved', async () => {
    const clock = fakeClock();
    const cache = new SnapshotCache({ ttlMs: 5_000, maxBytes: 1 << 30, clock });
    const s = table(5);
    const h1 = await cache.history('t', s, tableUri, await cache.get('t', s, tableUri));
    s.commit(6, [removeAt('p=1/f5.parquet', 6, '1')]);
    clock.advance(5_000);
    const snap = await cache.get('t', s, tableUri);
    s.reads = [];
    const h2 = await cache.history('t', s, tableUri, snap);
    expect(s.reads).toEqual(['_delta_log/00000000000000000006.json']);
    expect([h1.version, h2.version, h2.info.outcome]).toEqual([5, 6, 'updated']);
    expect(cache.stats().history).toMatchObject({ loads: 1, updates: 1 });
  });

  it('gives a recent history when that is enough, and the complete one once it is needed', async () => {
    const clock = fakeClock();
    const cache = new SnapshotCache({ ttlMs: 5_000, maxBytes: 1 << 30, clock });
    const s = table(30);
    // No checkpoint here: the recent history is the complete one, read once for both needs.
    const snap = await cache.get('t', s, tableUri);
    const recent = await cache.history('t', s, tableUri, snap, false);
    const complete = await cache.history('t', s, tableUri, snap, true);
    expect(recent).toBe(complete);
    expect(cache.stats().history).toMatchObject({ loads: 1, recentLoads: 0 });
  });

  it('answers a failed load from memory for a second, then tries storage again', async () => {
    const clock = fakeClock();
    const cache = new SnapshotCache({ ttlMs: 5_000, maxBytes: 1 << 30, clock });
    const s = table(3);
    const snap = await cache.get('t', s, tableUri);
    const read = s.read.bind(s);
    let failing = true;
    let attempts = 0;
    s.read = async (path, range) => {
      if (path.endsWith('.json') && failing) {
        attempts++;
        throw new StorageError('Unavailable', 'backend down');
      }
      return read(path, range);
    };
    for (let i = 0; i < 500; i++) {
      await expect(cache.history('t', s, tableUri, snap)).rejects.toThrow('backend down');
    }
    expect(cache.stats().history).toMatchObject({ failures: 1, failuresReused: 499 });
    expect(attempts).toBeLessThanOrEqual(16); // one load's window of commit reads
    failing = false;
    clock.advance(999);
    await expect(cache.history('t', s, tableUri, snap)).rejects.toThrow('backend down');
    clock.advance(1);
    const h = await cache.history('t', s, tableUri, snap);
    expect(h.version).toBe(3);
  });

  it('counts history in the memory budget and evicts it with its table', async () => {
    const clock = fakeClock();
    const s1 = table(200);
    const s2 = table(3);
    const probe = new SnapshotCache({ ttlMs: 5_000, maxBytes: 1 << 30, clock });
    const snap = await probe.get('a', s1, tableUri);
    const h = await probe.history('a', s1, tableUri, snap);
    expect(probe.stats().bytes).toBe(snap.estimatedBytes + h.estimatedBytes);
    expect(probe.stats().history.bytes).toBe(h.estimatedBytes);

    // A budget that holds table a's snapshot but not also its history and table b.
    const cache = new SnapshotCache({
      ttlMs: 5_000,
      maxBytes: snap.estimatedBytes + h.estimatedBytes,
      clock,
    });
    await cache.history('a', s1, tableUri, await cache.get('a', s1, tableUri));
    await cache.get('b', s2, 's3://bucket/b'); // used no more than a: served, not kept
    expect(cache.stats()).toMatchObject({ tables: 1, evictions: 0, notAdmitted: 1 });
    expect(cache.loadedHistory('a')).toBeDefined();
    await cache.get('b', s2, 's3://bucket/b'); // now used more: a goes, with its history
    expect(cache.stats()).toMatchObject({ tables: 1, evictions: 1 });
    expect(cache.loadedHistory('a')).toBeUndefined();
  });
});
