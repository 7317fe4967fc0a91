/**
 * The filtered view holds each table's listing of its real `_delta_log/` between versions
 * (held-log-listing.ts): a long log's is tens of MB. It counts in `snapshotCacheBytes` with the
 * generated files, which yield to it: what the view reports is what it holds, within slack. Past
 * the budget, the least recently read tables' listings are dropped (listed whole when read again).
 */
import { describe, expect, it } from 'vitest';
import { fileGrantOf } from '../../lambda/access/file-grant';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { FilteredLogView } from '../../lambda/log-view/filtered-log-view';
import { HELD_FILE_BYTES } from '../../lambda/log-view/held-log-listing';
import { MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';
import { heapUsed } from '../helpers/heap';
import { commitKey } from '../helpers/log-text';
import { measured, retryMeasured } from '../helpers/measured';

const URI = 's3://bucket/t';
/** Commits; a checkpoint at the newest. */
const COMMITS = 20_000;

async function longLog(uri = URI) {
  const s = new MemoryDeltaStorage();
  s.lastModified = new Date(1);
  s.commit(0, [protocolV1, metaData(['region'])]);
  for (let v = 1; v < COMMITS; v++) s.commit(v, [{ commitInfo: { timestamp: v } }]);
  await s.checkpoint(COMMITS - 1, [{ path: 'region=EU/a.parquet', partitionValues: { region: 'EU' } }]);
  const snapshot = await loadSnapshot(s, { tableUri: uri });
  const grant = fileGrantOf(snapshot.partitionColumns, [{ region: 'EU' }]);
  return { tableUri: uri, storage: s, snapshot, grant };
}

describe(`the held listing of a ${COMMITS.toLocaleString('en')}-commit log`, retryMeasured, () => {
  it('is counted in what the view holds, about as much as it takes', async () => {
    const req = await longLog();
    const before = await heapUsed();
    const view = new FilteredLogView({ budgetBytes: () => 256 * 1024 * 1024 });
    expect((await view.folder(req)).keys.length).toBe(COMMITS + 2);
    const retained = (await heapUsed()) - before;
    const { listingBytes, bytes } = view.stats();
    expect(listingBytes).toBe((COMMITS + 1) * HELD_FILE_BYTES);
    expect(bytes).toBe(listingBytes);
    // An honest estimate: neither far below what the listing (and the logs made of it) take, nor
    // far above.
    measured(retained, 'heap kept, bytes').toBeLessThan(listingBytes * 1.25 + 1024 * 1024);
    measured(retained, 'heap kept, bytes').toBeGreaterThan(listingBytes / 2);
    expect(view).toBeDefined();
  });

  it('leaves the generated files only what it does not take', async () => {
    const req = await longLog();
    const listing = (COMMITS + 1) * HELD_FILE_BYTES;
    // Kept with the filtered commit: the commit's partitioning (partitioning-epoch.ts).
    for (const [budget, kept] of [
      [listing, 0],
      [listing + 1024 * 1024, 2],
    ] as const) {
      const view = new FilteredLogView({ budgetBytes: () => budget });
      await view.folder(req);
      const commit = await view.object(req, commitKey(COMMITS - 1));
      expect(commit?.body.byteLength).toBeGreaterThan(0);
      await view.object(req, commitKey(COMMITS - 1));
      const stats = view.stats();
      expect([budget - listing, stats.entries]).toEqual([budget - listing, kept]);
      expect(stats.bytes).toBeLessThanOrEqual(budget);
    }
  });

  it('is dropped for the least recently read tables when the listings exceed the budget', async () => {
    const [a, b] = [await longLog('s3://bucket/a'), await longLog('s3://bucket/b')];
    const listing = (COMMITS + 1) * HELD_FILE_BYTES;
    const before = await heapUsed();
    const view = new FilteredLogView({ budgetBytes: () => listing * 1.5 });
    const read = async (req: typeof a) => {
      const lists = req.storage.lists;
      expect((await view.folder(req)).keys.length).toBe(COMMITS + 2);
      const { listingBytes, listingsDropped } = view.stats();
      return { listed: req.storage.lists > lists, listingBytes, listingsDropped };
    };
    expect(await read(a)).toEqual({ listed: true, listingBytes: listing, listingsDropped: 0 });
    // Held: read again without a listing.
    expect(await read(a)).toEqual({ listed: false, listingBytes: listing, listingsDropped: 0 });
    // Both do not fit: a's is dropped...
    expect(await read(b)).toEqual({ listed: true, listingBytes: listing, listingsDropped: 1 });
    // ...and nothing of it stays on the heap (both held would be twice one: 2 x ~6 MB).
    const retained = (await heapUsed()) - before;
    measured(retained, 'heap kept, bytes').toBeLessThan(listing * 1.25 + 1024 * 1024);
    // a is listed again, and b, now the least recently read, dropped.
    expect(await read(a)).toEqual({ listed: true, listingBytes: listing, listingsDropped: 2 });

    // A budget below one listing still holds the table being read (its answer needs it).
    const small = new FilteredLogView({ budgetBytes: () => listing / 2 });
    await small.folder(a);
    expect(small.stats()).toMatchObject({ listingBytes: listing, listingsDropped: 0 });
    await small.folder(b);
    expect(small.stats()).toMatchObject({ listingBytes: listing, listingsDropped: 1 });
  });
});
