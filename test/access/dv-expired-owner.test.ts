/**
 * A deletion-vector file holds the vectors of every file that ever pointed at it: it is readable
 * only when every owner the retained history knows is in a granted partition, "expired or not"
 * (history-access.ts). An owner removed so long ago that the newest checkpoint no longer carries
 * its tombstone is still in the retained commits, and its vector still in the file.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../helpers/authz-harness';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import { addAction, removeAction, sharedVector } from '../helpers/log-text';
import { memoryAuthorizer } from '../helpers/memory-authz';
import {
  addA,
  checkpointOfA,
  DAY,
  EU_AND_ALL as grants,
  putBodies,
  removeB,
  SHARED_DV_FILE as sharedFile,
  TWO_OWNERS,
} from '../helpers/shared-dv-table';

/**
 * v0: EU a and US b share one deletion-vector file; v1: b removed 10 days ago (past the 7-day
 * retention); checkpoint 2 (its tombstone dropped, as writers drop expired ones); v3: a removed now.
 * With `activeOwner`, an EU file c pointing at the same file is added at v3 and stays active.
 */
async function table(now: number, activeOwner: boolean) {
  const s = new MemoryDeltaStorage();
  s.commit(0, TWO_OWNERS).commit(1, [removeB(now - 10 * DAY)]);
  s.commit(2, [{ commitInfo: { timestamp: now - DAY, operation: 'WRITE' } }]);
  await checkpointOfA(s, 2);
  s.commit(3, [
    removeAction('region=EU/a.parquet', {
      partitionValues: { region: 'EU' },
      deletionTimestamp: now,
      deletionVector: sharedVector(1),
    }),
    ...(activeOwner
      ? [addAction('region=EU/c.parquet', { region: 'EU' }, { deletionVector: sharedVector(40) })]
      : []),
  ]);
  return putBodies(s);
}

describe('a deletion-vector file with an owner removed past its retention, in a forbidden partition', () => {
  it.each([
    ['every owner removed', false],
    ['an active owner in a granted partition', true],
  ])('is refused to a caller granted only the other owners (%s)', async (_name, activeOwner) => {
    const clock = new ManualClock();
    const { allows } = memoryAuthorizer(await table(clock.now(), activeOwner), grants, clock);
    expect(await allows('eu', sharedFile)).toBe(false);
    expect(await allows('all', sharedFile)).toBe(true);
  });

  it('is refused also when a removed data file was read first (the history then starts recent)', async () => {
    const clock = new ManualClock();
    const { allows } = memoryAuthorizer(await table(clock.now(), false), grants, clock);
    expect(await allows('eu', 'region=EU/a.parquet')).toBe(true);
    expect(await allows('eu', sharedFile)).toBe(false);
    expect(await allows('all', sharedFile)).toBe(true);
  });

  it('is refused also after a checkpoint written past that owner’s retention (a history brought forward)', async () => {
    const clock = new ManualClock();
    const now = clock.now();
    const s = new MemoryDeltaStorage();
    // v0: EU a and US b share the file; v1: b removed now.
    s.commit(0, TWO_OWNERS).commit(1, [removeB(now)]);
    s.put(sharedFile, 'VECTORS OF EU AND US');
    const { allows } = memoryAuthorizer(s, grants, clock);
    expect(await allows('eu', sharedFile)).toBe(false);
    // Eight days on: a checkpoint (b's tombstone expired and dropped), then a commit touching a.
    clock.advance(8 * DAY);
    s.commit(2, [{ commitInfo: { timestamp: clock.now(), operation: 'WRITE' } }]);
    await checkpointOfA(s, 2, false);
    s.commit(3, [addA()]);
    // Every commit is still retained: a history loaded afresh knows b, so must one brought forward.
    expect(await allows('eu', sharedFile)).toBe(false);
    expect(await allows('all', sharedFile)).toBe(true);
  });
});
