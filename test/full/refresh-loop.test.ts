/**
 * An incremental refresh forks the previous snapshot's maps: it copies the changes made since the
 * last fold (up to an eighth of the table), and once they outgrow that it folds them into a new
 * base, a copy of the whole path index. On a table of a million files that is ~40 ms (the copy)
 * and ~400 ms (the fold) of CPU: none of it may hold the event loop. Each block is held against
 * the CPU the refresh cost (as cdc-listing-loop and allowed-set-loop do), not a wall clock; the
 * refreshes measured add one file, so the fork is most of their CPU. The snapshots that were
 * forked stay as they were, for the requests still holding them.
 */
import { describe, expect, it } from 'vitest';
import { loadSnapshot, refreshSnapshot } from '../../lambda/delta/load-snapshot';
import type { Snapshot } from '../../lambda/delta/snapshot';
import { NO_TUPLE } from '../../lambda/delta/snapshot-view';
import { add, MemoryDeltaStorage, metaData, protocolV1, remove } from '../helpers/delta-memory-storage';
import { longestLoopBlock } from '../helpers/loop-watch';
import { measured, retryMeasured } from '../helpers/measured';

const FILES = 1_000_000;
const tableUri = 's3://bucket/t';
const region = (i: number) => (i % 2 ? 'EU' : 'US');
const path = (i: number) => `region=${region(i)}/part-${String(i).padStart(7, '0')}-c000.snappy.parquet`;

async function refreshed(s: MemoryDeltaStorage, prev: Snapshot): Promise<Snapshot> {
  const r = await refreshSnapshot(prev, s, { tableUri });
  expect(r.outcome).toBe('combined');
  return r.snapshot;
}

/** Refreshes after a commit of one new file, measuring the longest block against the CPU. */
async function refreshMeasured(s: MemoryDeltaStorage, prev: Snapshot, version: number) {
  s.commit(version, [add(`region=EU/new-${version}.parquet`, { region: 'EU' })]);
  const { result, longestBlockMs, cpuMs } = await longestLoopBlock(() => refreshed(s, prev));
  return { snapshot: result, longestBlockMs, cpuMs };
}

describe(`refreshing a table of ${FILES} files`, retryMeasured, () => {
  it('copies and folds its changes without holding the event loop', async () => {
    const s = new MemoryDeltaStorage().commit(0, [protocolV1, metaData(['region'])]);
    await s.checkpoint(
      1,
      Array.from({ length: FILES }, (_, i) => ({ path: path(i), partitionValues: { region: region(i) } })),
    );
    s.commit(1, []);
    let snap = await loadSnapshot(s, { tableUri });
    expect(snap.fileCount).toBe(FILES);
    // A tenth of the files removed: changes on top of the checkpoint's index (under an eighth of
    // it, so they stay on top).
    const removed = FILES / 10;
    s.commit(
      2,
      Array.from({ length: removed }, (_, i) => remove(path(i))),
    );
    snap = await refreshed(s, snap);

    // The next refresh copies those changes.
    const copy = await refreshMeasured(s, snap, 3);
    // Its longest block is the copy's own Map growing (V8 rehashes all it holds at each doubling:
    // 20-27 ms at these 100,000 changes, a fifth to a quarter of the copy's CPU).
    measured(copy.longestBlockMs, 'copy: longest loop block, ms').toBeLessThan(copy.cpuMs / 3);
    snap = copy.snapshot;

    // A commit that takes the changes past an eighth of the table: its refresh folds them into a
    // new base before applying it (LogReplay.applyBatchInSlices), where the next refresh's fork
    // would have folded them.
    const added = FILES / 20;
    s.commit(
      4,
      Array.from({ length: added }, (_, i) => add(`region=EU/more-${i}.parquet`, { region: 'EU' })),
    );
    const fold = await longestLoopBlock(() => refreshed(s, snap));
    measured(fold.longestBlockMs, 'fold: longest loop block, ms').toBeLessThan(fold.cpuMs / 4);
    const folded = fold.result;
    // The snapshot forked is unchanged.
    expect(snap.fileCount).toBe(FILES - removed + 1);
    expect(snap.tupleOf('region=EU/more-0.parquet')).toBe(NO_TUPLE);

    const next = (await refreshMeasured(s, folded, 5)).snapshot;
    expect(next.fileCount).toBe(FILES - removed + added + 2);
    expect(next.tupleOf(path(0))).toBe(NO_TUPLE);
    expect(next.tupleOf(path(removed))).toBeGreaterThanOrEqual(0);
    expect(next.tupleOf('region=EU/more-0.parquet')).toBeGreaterThanOrEqual(0);
    expect(next.tupleOf('region=EU/new-5.parquet')).toBeGreaterThanOrEqual(0);
    expect(folded.fileCount).toBe(FILES - removed + added + 1);
    expect(folded.tupleOf('region=EU/new-5.parquet')).toBe(NO_TUPLE);
    expect(folded.tupleOf(path(removed))).toBeGreaterThanOrEqual(0);
  }, 600_000);
});
