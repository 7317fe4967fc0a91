/**
 * A checkpoint naming one data file twice with different partition values has no single reading
 * (kernel keeps both checkpoint rows, Spark the last one): as for a commit, the file is refused.
 */
import { describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { NO_TUPLE } from '../../lambda/delta/snapshot-view';
import { ManualClock } from '../helpers/authz-harness';
import { add, MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';
import { removeAction } from '../helpers/log-text';
import { memoryAuthorizer } from '../helpers/memory-authz';

const tableUri = 's3://bucket/warehouse/t';

describe('a checkpoint that adds one file twice', () => {
  it('refuses the file when the two adds disagree on its partition, and keeps it when they agree', async () => {
    const s = new MemoryDeltaStorage().commit(0, [protocolV1, metaData(['region'])]);
    await s.checkpoint(0, [
      { path: 'a.parquet', partitionValues: { region: 'US' } },
      { path: 'a.parquet', partitionValues: { region: 'EU' } },
      { path: 'b.parquet', partitionValues: { region: 'EU' } },
      { path: 'b.parquet', partitionValues: {} }, // refused for its map: no reading says EU
      { path: 'c.parquet', partitionValues: { region: 'US' } },
      { path: 'c.parquet', partitionValues: { region: 'US' } },
      { path: 'd.parquet', partitionValues: { region: 'US' } },
      { path: 'd.parquet', partitionValues: { region: 'EU' } },
      { path: 'd.parquet', partitionValues: { region: 'US' } }, // a third add does not undo it
    ]);
    const snap = await loadSnapshot(s, { tableUri });
    expect(snap.loadInfo.checkpointVersion).toBe(0);
    expect(snap.tupleOf('a.parquet')).toBe(NO_TUPLE);
    expect(snap.tupleOf('b.parquet')).toBe(NO_TUPLE);
    expect(snap.tupleOf('d.parquet')).toBe(NO_TUPLE);
    expect(snap.tupleValues(snap.tupleOf('c.parquet'))).toEqual(['US']);
    // A later commit's add places the file for every reader again.
    const moved = await loadSnapshot(s.commit(1, [add('a.parquet', { region: 'EU' })]), { tableUri });
    expect(moved.tupleValues(moved.tupleOf('a.parquet'))).toEqual(['EU']);
  });

  // The history placed a later remove without values by the checkpoint's last row: a removed file
  // the snapshot had refused became readable from history in that row's partition.
  it('places a later remove without partition values by neither add', async () => {
    const clock = new ManualClock();
    const s = new MemoryDeltaStorage().commit(0, [protocolV1, metaData(['region'])]);
    // Checkpoint 1 (commit 1, which added the files, cleaned up); commit 2 removes them.
    await s.checkpoint(1, [
      { path: 'a.parquet', partitionValues: { region: 'US' } },
      { path: 'a.parquet', partitionValues: { region: 'EU' } },
      { path: 'b.parquet', partitionValues: { region: 'EU' } },
    ]);
    s.commit(2, [
      removeAction('a.parquet', { deletionTimestamp: clock.now() }),
      removeAction('b.parquet', { deletionTimestamp: clock.now() }),
    ]);
    s.put('a.parquet', 'A').put('b.parquet', 'B');
    const grants = ['EU', 'US'].map((region) => ({
      principal: region,
      table: 't',
      partitions: [{ region }],
    }));
    const { allows } = memoryAuthorizer(s, grants, clock);
    expect(await allows('EU', 'b.parquet')).toBe(true); // a removed file placed by its one add
    expect(await allows('EU', 'a.parquet')).toBe(false);
    expect(await allows('US', 'a.parquet')).toBe(false);
  });
});
