/**
 * A shared deletion-vector file whose other owner was removed past its retention: only the
 * complete history (the retained commits) knows that owner. When an old retained commit cannot be
 * read, the file must stay refused to a caller not granted that owner, not be served as if the
 * history had nothing to say.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../helpers/authz-harness';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import { commitKey } from '../helpers/log-text';
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

describe('a shared deletion-vector file when an old retained commit cannot be read', () => {
  it('is refused to a caller granted only the active owner', async () => {
    const clock = new ManualClock();
    const now = clock.now();
    const s = new MemoryDeltaStorage();
    // v0: EU a and US b share the file; v1: b removed 10 days ago (past the 7-day retention).
    s.commit(0, TWO_OWNERS).commit(1, [removeB(now - 10 * DAY)]);
    // v2: damaged (a torn write); readers start from checkpoint 3 and never read it.
    s.put(commitKey(2), '{"commitInfo":{"timestamp":0}}\n{"add":');
    s.commit(3, [{ commitInfo: { timestamp: now - DAY, operation: 'WRITE' } }]);
    await checkpointOfA(s, 3);
    // v4: EU a points at the shared file again (its vector rewritten in place).
    s.commit(4, [addA()]);
    const { allows, authorizer, mount } = memoryAuthorizer(putBodies(s), grants, clock);
    expect(await allows('eu', 'region=EU/a.parquet')).toBe(true);
    expect(await allows('eu', sharedFile)).toBe(false);
    expect(await allows('all', sharedFile)).toBe(true);
    // A listing shows no file a GET refuses.
    const eu = { name: 'eu', anonymous: false };
    const listing = await authorizer.listingFilter(eu, mount, { relPrefix: '', delimiter: '' });
    expect(listing?.allowObject('region=EU/a.parquet')).toBe(true);
    expect(listing?.allowObject(sharedFile)).toBe(false);
  });
});
