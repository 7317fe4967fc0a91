/**
 * Tables that together exceed the snapshot cache's budget: with plain LRU, reading them in turn
 * evicted the one about to be read next, so every request loaded a whole table. The cache keeps
 * the more used ones and serves a newcomer that would evict them without keeping it, stays within
 * its budget, and follows the reads when they move to another table.
 */
import { describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { SnapshotCache } from '../../lambda/delta/snapshot-cache';
import { add, MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';

const tableUri = 's3://bucket/t';

function table(files: number): MemoryDeltaStorage {
  return new MemoryDeltaStorage().commit(0, [
    protocolV1,
    metaData(['p']),
    ...Array.from({ length: files }, (_, i) => add(`p=${i % 10}/f${i}.parquet`, { p: String(i % 10) })),
  ]);
}

async function sizeOf(files: number): Promise<number> {
  return (await loadSnapshot(table(files), { tableUri })).estimatedBytes;
}

/** Requests `order` in turn; returns the loads (full log listings) per request and the worst bytes. */
async function run(cache: SnapshotCache, stores: Map<string, MemoryDeltaStorage>, order: string[]) {
  const lists = () => [...stores.values()].reduce((n, s) => n + s.lists, 0);
  const before = lists();
  let worstBytes = 0;
  for (const k of order) {
    await cache.get(k, stores.get(k)!, tableUri);
    worstBytes = Math.max(worstBytes, cache.stats().bytes);
  }
  return { loads: lists() - before, worstBytes };
}

const clock = { now: () => 0 };

describe('tables over the cache budget', () => {
  it('alternating over two tables that do not fit together loads one table per two requests, not per request', async () => {
    const one = await sizeOf(500);
    const maxBytes = Math.round(one * 1.5);
    const cache = new SnapshotCache({ ttlMs: 60_000, maxBytes, clock });
    const stores = new Map([
      ['a', table(500)],
      ['b', table(500)],
    ]);
    const order = Array.from({ length: 40 }, (_, i) => (i % 2 ? 'b' : 'a'));
    const { loads, worstBytes } = await run(cache, stores, order);
    expect(loads).toBe(1 + 20); // a once; b every time (an LRU cache: 40)
    expect(worstBytes).toBeLessThanOrEqual(maxBytes);
    expect(cache.stats()).toMatchObject({ tables: 1, evictions: 0 });
  });

  it('cycling over three tables of which two fit keeps two and loads only the third', async () => {
    const one = await sizeOf(300);
    const maxBytes = Math.round(one * 2.5);
    const cache = new SnapshotCache({ ttlMs: 60_000, maxBytes, clock });
    const stores = new Map(['a', 'b', 'c'].map((k) => [k, table(300)] as const));
    const order = Array.from({ length: 60 }, (_, i) => 'abc'[i % 3]!);
    const { loads, worstBytes } = await run(cache, stores, order);
    expect(loads).toBe(2 + 20); // an LRU cache: 60
    expect(worstBytes).toBeLessThanOrEqual(maxBytes);
  });

  it('serves a table larger than the whole budget without flushing the others', async () => {
    const small = await sizeOf(100);
    const maxBytes = small * 3;
    const cache = new SnapshotCache({ ttlMs: 60_000, maxBytes, clock });
    const stores = new Map([
      ['a', table(100)],
      ['b', table(100)],
      ['huge', table(2000)],
    ]);
    await run(cache, stores, ['a', 'b']);
    const { loads, worstBytes } = await run(cache, stores, ['huge', 'huge', 'huge', 'a', 'b']);
    expect(loads).toBe(3); // huge each time; a and b stayed
    expect(worstBytes).toBeLessThanOrEqual(maxBytes);
  });

  it('keeps the other table once the reads move to it', async () => {
    const one = await sizeOf(500);
    const cache = new SnapshotCache({ ttlMs: 60_000, maxBytes: Math.round(one * 1.5), clock });
    const stores = new Map([
      ['a', table(500)],
      ['b', table(500)],
    ]);
    await run(
      cache,
      stores,
      Array.from({ length: 40 }, () => 'a'),
    );
    const moved = await run(
      cache,
      stores,
      Array.from({ length: 40 }, () => 'b'),
    );
    // Served but not kept until b's recent use outweighs a's (one aging period), then cached.
    expect(moved.loads).toBeLessThanOrEqual(20);
    const after = await run(cache, stores, ['b', 'b', 'b']);
    expect(after.loads).toBe(0);
  });
});
