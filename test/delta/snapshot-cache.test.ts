/**
 * Incremental refresh and the per-table snapshot cache: single flight, TTL, forced refresh
 * before a denial (rate-limited), LRU eviction by estimated size.
 */
import { describe, expect, it } from 'vitest';
import { DeltaLogError } from '../../lambda/delta/delta-log-error';
import { loadSnapshot, refreshSnapshot } from '../../lambda/delta/load-snapshot';
import { SnapshotCache, type SnapshotLoad } from '../../lambda/delta/snapshot-cache';
import { NO_TUPLE } from '../../lambda/delta/snapshot-view';
import { StorageError } from '../../lambda/storage/storage-backend';
import { add, MemoryDeltaStorage, metaData, protocolV1, remove } from '../helpers/delta-memory-storage';
import { commitKey } from '../helpers/log-text';

const tableUri = 's3://bucket/t';

function fakeClock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function base(): MemoryDeltaStorage {
  return new MemoryDeltaStorage()
    .commit(0, [
      protocolV1,
      metaData(['p']),
      add('p=1/a.parquet', { p: '1' }),
      add('p=2/b.parquet', { p: '2' }),
    ])
    .commit(1, [add('p=1/c.parquet', { p: '1' })]);
}

describe('refreshSnapshot', () => {
  it('is unchanged when no commit is new, and reads nothing but the listing', async () => {
    const s = base();
    const snap = await loadSnapshot(s, { tableUri });
    s.reads = [];
    const r = await refreshSnapshot(snap, s, { tableUri });
    expect(r.outcome).toBe('unchanged');
    expect(r.snapshot).toBe(snap);
    expect(s.reads).toEqual([]);
  });

  it('combines only the new commits and leaves the previous snapshot intact', async () => {
    const s = base();
    const snap = await loadSnapshot(s, { tableUri });
    s.commit(2, [remove('p=1/a.parquet'), add('p=3/d.parquet', { p: '3' })]);
    s.reads = [];
    const r = await refreshSnapshot(snap, s, { tableUri });
    expect(r.outcome).toBe('combined');
    expect(s.reads).toEqual(['_delta_log/00000000000000000002.json']);
    expect(r.snapshot.version).toBe(2);
    expect(r.snapshot.tupleOf('p=1/a.parquet')).toBe(NO_TUPLE);
    expect(r.snapshot.tupleValues(r.snapshot.tupleOf('p=3/d.parquet'))).toEqual(['3']);
    expect(snap.version).toBe(1);
    expect(snap.tupleValues(snap.tupleOf('p=1/a.parquet'))).toEqual(['1']);
    expect(snap.tupleOf('p=3/d.parquet')).toBe(NO_TUPLE);
  });

  it('rebuilds when the partitioning changes', async () => {
    const s = base();
    const snap = await loadSnapshot(s, { tableUri });
    s.commit(2, [
      metaData(['q']),
      remove('p=1/a.parquet'),
      remove('p=2/b.parquet'),
      remove('p=1/c.parquet'),
      add('q=x/e.parquet', { q: 'x' }),
    ]);
    const r = await refreshSnapshot(snap, s, { tableUri });
    expect(r.outcome).toBe('rebuilt');
    expect(r.snapshot.partitionColumns.map((c) => c.logical)).toEqual(['q']);
    expect(r.snapshot.activeFileCount).toBe(1);
  });

  it('matches a fresh load after many small refreshes', async () => {
    const s = base();
    let snap = await loadSnapshot(s, { tableUri });
    for (let v = 2; v < 40; v++) {
      s.commit(v, [
        add(`p=${v % 3}/f${v}.parquet`, { p: String(v % 3) }),
        ...(v % 4 === 0 ? [remove(`p=${(v - 2) % 3}/f${v - 2}.parquet`)] : []),
      ]);
      snap = (await refreshSnapshot(snap, s, { tableUri })).snapshot;
    }
    const fresh = await loadSnapshot(s, { tableUri });
    const files = (x: typeof snap) => {
      const out: string[] = [];
      x.forEachFile((p, t) => out.push(`${p}:${x.tupleValues(t).join(',')}`));
      return out.sort();
    };
    expect(files(snap)).toEqual(files(fresh));
    expect(snap.version).toBe(39);
  });
});

describe('SnapshotCache', () => {
  it('shares one load between concurrent requests (single flight)', async () => {
    const s = base();
    const cache = new SnapshotCache({ ttlMs: 5000, maxBytes: 1e9, clock: fakeClock() });
    const snaps = await Promise.all(Array.from({ length: 20 }, () => cache.get('t', s, tableUri)));
    expect(new Set(snaps).size).toBe(1);
    expect(s.lists).toBe(1);
    expect(cache.stats()).toMatchObject({ misses: 1, hits: 0, tables: 1 });
  });

  it('serves from memory within the TTL and refreshes incrementally after it', async () => {
    const s = base();
    const clock = fakeClock();
    const cache = new SnapshotCache({ ttlMs: 5000, maxBytes: 1e9, clock });
    const first = await cache.get('t', s, tableUri);
    s.commit(2, [add('p=9/new.parquet', { p: '9' })]);
    clock.advance(4999);
    expect(await cache.get('t', s, tableUri)).toBe(first);
    clock.advance(1);
    const next = await cache.get('t', s, tableUri);
    expect(next.version).toBe(2);
    expect(cache.stats()).toMatchObject({
      hits: 1,
      misses: 1,
      refreshes: { combined: 1, unchanged: 0, rebuilt: 0 },
    });
  });

  it('refreshes before a denial when the log has a newer commit, probing with one shared short listing', async () => {
    const s = base();
    const clock = fakeClock();
    const cache = new SnapshotCache({ ttlMs: 60_000, maxBytes: 1e9, clock, newCommitProbeTtlMs: 1000 });
    await cache.get('t', s, tableUri);
    s.commit(2, [add('p=1/fresh.parquet', { p: '1' })]);
    const listsBefore = s.lists;
    const [a, b] = await Promise.all([
      cache.refreshBeforeDenial('t', s, tableUri),
      cache.refreshBeforeDenial('t', s, tableUri),
    ]);
    expect(a).toBe(b);
    expect(a.tupleOf('p=1/fresh.parquet')).not.toBe(NO_TUPLE);
    expect(s.lists - listsBefore).toBe(2); // the shared probe, then the refresh
    // Random unknown paths with nothing new in the log: one probe shared in the window, no refresh.
    s.reads = [];
    const same = await Promise.all(
      Array.from({ length: 50 }, () => cache.refreshBeforeDenial('t', s, tableUri)),
    );
    expect(new Set(same)).toEqual(new Set([a]));
    expect(s.lists - listsBefore).toBe(3);
    expect(s.reads).toEqual([]);
    expect(cache.stats()).toMatchObject({ newCommitProbes: 2, forcedRefreshes: 1 });
    // The next commit is found by the first probe after the window.
    s.commit(3, [add('p=1/later.parquet', { p: '1' })]);
    clock.advance(1000);
    const later = await cache.refreshBeforeDenial('t', s, tableUri);
    expect(later.tupleOf('p=1/later.parquet')).not.toBe(NO_TUPLE);
    expect(s.lists - listsBefore).toBe(5);
  });

  // A GET of a commit another instance listed may not take a recent "nothing new" for an answer
  // (a probe begun after its probeMark), yet a flood of such GETs must not cost a listing each.
  it('probes anew after each call, one listing at a time shared by the calls that wait', async () => {
    const s = base();
    const clock = fakeClock();
    const cache = new SnapshotCache({ ttlMs: 60_000, maxBytes: 1e9, clock, newCommitProbeTtlMs: 1000 });
    const first = await cache.get('t', s, tableUri);
    const listsBefore = s.lists;
    const flood = await Promise.all(
      Array.from({ length: 50 }, () =>
        cache.refreshBeforeDenial('t', s, tableUri, undefined, cache.probeMark()),
      ),
    );
    expect(new Set(flood)).toEqual(new Set([first]));
    expect(s.lists - listsBefore).toBe(2); // the one running, then the one all the others share
    // Within the window, a commit written after the last probe is still found.
    s.commit(2, [add('p=1/fresh.parquet', { p: '1' })]);
    const fresh = await cache.refreshBeforeDenial('t', s, tableUri, undefined, cache.probeMark());
    expect(fresh.tupleOf('p=1/fresh.parquet')).not.toBe(NO_TUPLE);
  });

  // Data-file refusals take a recent answer first and then one begun after they arrived: a flood
  // of GETs for random missing keys, while the clock moves, still lists the log one at a time.
  it('runs probes one at a time per table, recent answers and those begun after a mark alike', async () => {
    const s = new SlowLog();
    s.commit(0, [protocolV1, metaData(['p']), add('p=1/a.parquet', { p: '1' })]);
    const clock = fakeClock();
    const cache = new SnapshotCache({ ttlMs: 60_000, maxBytes: 1e9, clock });
    await cache.get('t', s, tableUri);
    const listsBefore = s.lists;
    const denial = async (i: number) => {
      await new Promise((r) => setTimeout(r, i % 25)); // arrivals spread over several listings
      const mark = cache.probeMark();
      await cache.refreshBeforeDenial('t', s, tableUri);
      clock.advance(30);
      return cache.refreshBeforeDenial('t', s, tableUri, undefined, mark);
    };
    const flood = await Promise.all(Array.from({ length: 100 }, (_, i) => denial(i)));
    expect(flood.every((x) => x.version === 0)).toBe(true);
    expect(s.most).toBe(1);
    expect(s.lists - listsBefore).toBeGreaterThan(1);
    expect(s.lists - listsBefore).toBeLessThan(20);
  });

  it('keeps the more used tables within the byte budget: a newcomer is kept once it is used more', async () => {
    const clock = fakeClock();
    const one = await loadSnapshot(base(), { tableUri });
    const cache = new SnapshotCache({ ttlMs: 60_000, maxBytes: one.estimatedBytes * 2.5, clock });
    const stores = ['a', 'b', 'c'].map(() => base());
    await cache.get('a', stores[0]!, tableUri);
    await cache.get('b', stores[1]!, tableUri);
    await cache.get('a', stores[0]!, tableUri); // a is now the most recently used
    await cache.get('c', stores[2]!, tableUri); // over budget, and no more used than b: served, not kept
    expect(cache.stats()).toMatchObject({ evictions: 0, notAdmitted: 1, tables: 2 });
    await cache.get('c', stores[2]!, tableUri); // now used more than b (the least recently used): b goes
    expect(cache.stats()).toMatchObject({ evictions: 1, notAdmitted: 1, tables: 2 });
    const listsA = stores[0]!.lists;
    const listsB = stores[1]!.lists;
    await cache.get('a', stores[0]!, tableUri);
    expect(stores[0]!.lists).toBe(listsA); // still cached
    await cache.get('b', stores[1]!, tableUri);
    expect(stores[1]!.lists).toBe(listsB + 1); // reloaded
    expect(cache.stats().bytes).toBeLessThanOrEqual(one.estimatedBytes * 2.5);
  });

  it('does not cache a failed load, and a later request retries', async () => {
    const s = new MemoryDeltaStorage();
    const cache = new SnapshotCache({ ttlMs: 5000, maxBytes: 1e9, clock: fakeClock() });
    await expect(cache.get('t', s, tableUri)).rejects.toThrow(/no Delta log/);
    s.commit(0, [protocolV1, metaData([]), add('a.parquet')]);
    expect((await cache.get('t', s, tableUri)).activeFileCount).toBe(1);
    expect(cache.stats().loadErrors).toBe(1);
  });
});

/** A log whose listings take a few ms, counting how many run at once. */
class SlowLog extends MemoryDeltaStorage {
  open = 0;
  most = 0;
  override async list(dir: string, startAfter?: string) {
    this.open++;
    this.most = Math.max(this.most, this.open);
    try {
      await new Promise((r) => setTimeout(r, 5));
      return await super.list(dir, startAfter);
    } finally {
      this.open--;
    }
  }
}

/** A table whose log listing fails with `failure` while it is set (data reads are not involved). */
class FlakyLog extends MemoryDeltaStorage {
  failure: Error | undefined;
  override async list(dir: string, startAfter?: string) {
    if (this.failure) {
      this.lists++;
      throw this.failure;
    }
    return super.list(dir, startAfter);
  }
}

function flakyBase(): FlakyLog {
  const s = new FlakyLog();
  for (const [p, f] of base().files) s.put(p, f);
  return s;
}

describe('SnapshotCache, stale if error', () => {
  const throttled = () => new StorageError('Throttled', 'SlowDown');

  it('serves the previous snapshot while the log is throttled, trying it again each second, up to the limit', async () => {
    const s = flakyBase();
    const clock = fakeClock();
    const loads: SnapshotLoad[] = [];
    const onLoad = (l: SnapshotLoad) => loads.push(l);
    const cache = new SnapshotCache({ ttlMs: 5000, maxBytes: 1e9, clock, staleIfErrorMs: 20_000, onLoad });
    const first = await cache.get('t', s, tableUri);
    s.failure = throttled();
    clock.advance(5000);
    const lists = s.lists;
    expect(await cache.get('t', s, tableUri)).toBe(first);
    expect(s.lists).toBe(lists + 1);
    // Within the second after a failed try, nothing is asked of storage.
    clock.advance(999);
    expect(await cache.get('t', s, tableUri)).toBe(first);
    expect(s.lists).toBe(lists + 1);
    clock.advance(1);
    expect(await cache.get('t', s, tableUri)).toBe(first);
    expect(s.lists).toBe(lists + 2);
    expect(cache.stats()).toMatchObject({ staleServed: 2, loadErrors: 2 });
    expect(loads.map((l) => [l.kind, l.ok, l.stale])).toEqual([
      ['load', true, undefined],
      ['refresh', false, true],
      ['refresh', false, true],
    ]);
    // 25 s after the last good check (ttl 5 s + 20 s): the failure answers.
    clock.advance(25_000 - 6000);
    await expect(cache.get('t', s, tableUri)).rejects.toThrow(/SlowDown/);
    // Storage back: the next request refreshes and the new commit is seen.
    s.failure = undefined;
    s.commit(2, [add('p=9/new.parquet', { p: '9' })]);
    expect((await cache.get('t', s, tableUri)).version).toBe(2);
  });

  it('never for a log that fails to read for any other reason, nor with staleIfErrorMs 0', async () => {
    for (const [failure, staleIfErrorMs] of [
      [new StorageError('AccessDenied', 'backend refused'), 60_000],
      [new StorageError('Internal', 'backend error 500'), 60_000],
      [new DeltaLogError('Malformed', 'a commit that does not parse'), 60_000],
      [throttled(), 0],
    ] as const) {
      const s = flakyBase();
      const clock = fakeClock();
      const cache = new SnapshotCache({ ttlMs: 5000, maxBytes: 1e9, clock, staleIfErrorMs });
      await cache.get('t', s, tableUri);
      s.failure = failure;
      clock.advance(5000);
      await expect(cache.get('t', s, tableUri), failure.message).rejects.toBe(failure);
      expect(cache.stats().staleServed).toBe(0);
    }
  });

  /**
   * A cached table, then a commit whose refresh is throttled: the next listing (the probe before
   * a refusal) still sees it, every listing after that fails.
   */
  async function newerCommitThrottled() {
    const s = flakyBase();
    const clock = fakeClock();
    const cache = new SnapshotCache({ ttlMs: 5000, maxBytes: 1e9, clock, newCommitProbeTtlMs: 0 });
    const first = await cache.get('t', s, tableUri);
    s.commit(2, [add('p=1/late.parquet', { p: '1' })]);
    let listings = 0;
    const list = s.list.bind(s);
    s.list = async (dir, startAfter) => {
      if (listings++ === 0) return list(dir, startAfter);
      throw throttled();
    };
    return { s, clock, cache, first };
  }

  it('a refresh forced within the ttl that fails answers its error and serves nothing stale', async () => {
    const { s, clock, cache, first } = await newerCommitThrottled();
    clock.advance(1000);
    await expect(cache.refreshBeforeDenial('t', s, tableUri, first)).rejects.toThrow(/SlowDown/);
    expect(cache.stats().staleServed).toBe(0);
    expect(await cache.get('t', s, tableUri)).toBe(first); // still within its ttl
  });

  it('does not refuse from a stale snapshot once a newer commit is known to exist', async () => {
    // The probe sees version 2; the refresh that would read it is throttled.
    const { s, clock, cache, first } = await newerCommitThrottled();
    clock.advance(5000);
    await expect(cache.refreshBeforeDenial('t', s, tableUri, first)).rejects.toThrow(/SlowDown/);
    // While the stale snapshot serves what it knows, a refusal still needs the log.
    expect(await cache.get('t', s, tableUri)).toBe(first);
    await expect(cache.refreshBeforeDenial('t', s, tableUri, first)).rejects.toThrow(/SlowDown/);
  });
});

describe('SnapshotCache, a table replaced or rolled back under it', () => {
  const known = (snap: { tupleOf(p: string): number }, p: string) => snap.tupleOf(p) !== NO_TUPLE;

  it('follows a table deleted and recreated at the same path (its version back to 0) after the ttl', async () => {
    const s = base();
    const clock = fakeClock();
    const cache = new SnapshotCache({ ttlMs: 5000, maxBytes: 1e9, clock });
    expect((await cache.get('t', s, tableUri)).version).toBe(1);
    s.files.clear();
    s.commit(0, [protocolV1, metaData(['p']), add('p=1/new.parquet', { p: '1' })]);
    clock.advance(5000);
    const now = await cache.get('t', s, tableUri);
    expect(now.version).toBe(0);
    expect(known(now, 'p=1/new.parquet')).toBe(true);
    expect(known(now, 'p=1/a.parquet')).toBe(false);
    // A new commit of the new table, refused by no probe: the next one finds it.
    s.commit(1, [add('p=1/newer.parquet', { p: '1' })]);
    expect(known(await cache.refreshBeforeDenial('t', s, tableUri, now), 'p=1/newer.parquet')).toBe(true);
  });

  it('follows a table recreated and written up to the same version or past it', async () => {
    const s = base();
    s.lastModified = new Date(1_000_000);
    const clock = fakeClock();
    const cache = new SnapshotCache({ ttlMs: 5000, maxBytes: 1e9, clock });
    expect((await cache.get('t', s, tableUri)).version).toBe(1);
    // The same commits, written again a second later with other files: same sizes, same versions.
    s.files.clear();
    s.lastModified = new Date(1_001_000);
    s.commit(0, [
      protocolV1,
      metaData(['p']),
      add('p=1/x.parquet', { p: '1' }),
      add('p=2/y.parquet', { p: '2' }),
    ]);
    s.commit(1, [add('p=1/z.parquet', { p: '1' })]);
    clock.advance(5000);
    const same = await cache.get('t', s, tableUri);
    expect(known(same, 'p=1/z.parquet')).toBe(true);
    expect(known(same, 'p=1/c.parquet')).toBe(false);
    // Recreated again and already two commits further by the next refresh.
    s.files.clear();
    s.commit(0, [protocolV1, metaData(['p'])]);
    for (let v = 1; v <= 3; v++) s.commit(v, [add(`p=1/w${v}.parquet`, { p: '1' })]);
    clock.advance(5000);
    const past = await cache.get('t', s, tableUri);
    expect(past.version).toBe(3);
    expect(['p=1/w1.parquet', 'p=1/z.parquet', 'p=1/x.parquet'].map((p) => known(past, p))).toEqual([
      true,
      false,
      false,
    ]);
  });

  it('follows a table rolled back by deleting its newest commits, and the commits written after that', async () => {
    const s = base().commit(2, [add('p=1/late.parquet', { p: '1' })]);
    const clock = fakeClock();
    const cache = new SnapshotCache({ ttlMs: 5000, maxBytes: 1e9, clock });
    const first = await cache.get('t', s, tableUri);
    expect(known(first, 'p=1/late.parquet')).toBe(true);
    // The history at version 2 is loaded (a request named a file the snapshot did not know).
    expect((await cache.history('t', s, tableUri, first, false)).version).toBe(2);
    s.files.delete(commitKey(2));
    clock.advance(5000);
    const back = await cache.get('t', s, tableUri);
    expect(back.version).toBe(1);
    expect(known(back, 'p=1/late.parquet')).toBe(false);
    // The history follows: not the one of the version that no longer exists.
    expect((await cache.history('t', s, tableUri, back, false)).version).toBe(1);
    // A writer continues from version 1: its version 2 is not the one the proxy saw.
    s.commit(2, [add('p=2/other-file.parquet', { p: '2' })]);
    clock.advance(5000);
    const next = await cache.get('t', s, tableUri);
    expect([known(next, 'p=2/other-file.parquet'), known(next, 'p=1/late.parquet')]).toEqual([true, false]);
  });

  it('refuses by nothing it remembers once the whole log is gone', async () => {
    const s = base();
    const clock = fakeClock();
    const cache = new SnapshotCache({ ttlMs: 5000, maxBytes: 1e9, clock });
    await cache.get('t', s, tableUri);
    s.files.clear();
    clock.advance(5000);
    await expect(cache.get('t', s, tableUri)).rejects.toThrow(/no Delta log/);
  });
});
