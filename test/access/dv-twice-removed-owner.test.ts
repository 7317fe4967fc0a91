/**
 * A removed file whose remove carries no partition values is placed by its add. When the same
 * file is removed that way twice (its deletion vector updated twice), the first remove's
 * deletion-vector file still holds that file's vector: a caller not granted the file's partition
 * must not read it, also when a granted file shares it.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../helpers/authz-harness';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import { addAction, pathVector, removeAction, sharedVector } from '../helpers/log-text';
import { memoryAuthorizer } from '../helpers/memory-authz';
import {
  EU_AND_ALL as grants,
  putBodies,
  SHARED_DV_FILE as sharedFile,
  TWO_OWNERS,
} from '../helpers/shared-dv-table';

const vectorOfB = (n: number) => pathVector(`s3://bkt/t/region=US/vectors-of-b-${n}.bin`);

/** US b's vector moves off the shared file, then again; each remove without partition values. */
function table(now: number, updates: number) {
  const s = new MemoryDeltaStorage();
  s.commit(0, TWO_OWNERS);
  let previous: object = sharedVector(20);
  for (let v = 1; v <= updates; v++) {
    s.commit(v, [
      removeAction('region=US/b.parquet', { deletionTimestamp: now, deletionVector: previous }),
      addAction('region=US/b.parquet', { region: 'US' }, { deletionVector: vectorOfB(v) }),
    ]);
    previous = vectorOfB(v);
  }
  return putBodies(s);
}

describe('a shared deletion-vector file left by an owner removed twice without partition values', () => {
  it.each([1, 2, 3])('is refused to a caller granted only the other owner (%i updates)', async (updates) => {
    const clock = new ManualClock();
    const { allows } = memoryAuthorizer(table(clock.now(), updates), grants, clock);
    expect(await allows('eu', 'region=EU/a.parquet')).toBe(true);
    expect(await allows('eu', sharedFile)).toBe(false);
    expect(await allows('all', sharedFile)).toBe(true);
  });
});
