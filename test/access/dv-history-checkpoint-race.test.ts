/**
 * A shared deletion-vector file is served only once the complete history has named its owners.
 * When the checkpoints that history listed are deleted by a log cleanup before it reads them (a
 * newer checkpoint was written first), that is a race, not an unreadable log: the file must not
 * be refused with 403 (never retried), and must be served once the table is read again.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../helpers/authz-harness';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import { checkpointKey, commitKey, removeAction, sharedVector } from '../helpers/log-text';
import { memoryAuthorizer, memoryBackend } from '../helpers/memory-authz';
import {
  addA,
  checkpointOfA,
  DAY,
  EU_AND_ALL as grants,
  putBodies,
  SHARED_DV_FILE as sharedFile,
  TWO_OWNERS,
} from '../helpers/shared-dv-table';

describe('a shared deletion-vector file while a cleanup deletes the checkpoints the history listed', () => {
  it('is not refused with 403, and is served after', async () => {
    const clock = new ManualClock();
    const now = clock.now();
    const s = new MemoryDeltaStorage();
    // Both owners in EU: the caller granted EU may read the shared file.
    const owners = TWO_OWNERS.map((a) =>
      'add' in a && (a.add as { path: string }).path === 'region=US/b.parquet'
        ? { add: { ...(a.add as object), path: 'region=EU/c.parquet', partitionValues: { region: 'EU' } } }
        : a,
    );
    s.commit(0, owners);
    await checkpointOfA(s, 0, false);
    s.files.delete(commitKey(0)); // an earlier cleanup: the log starts at checkpoint 0
    s.commit(1, [addA()]);
    // EU c removed, its vector with it: only the complete history (commit 2) knows that owner.
    s.commit(2, [
      removeAction('region=EU/c.parquet', {
        partitionValues: { region: 'EU' },
        deletionTimestamp: now - DAY,
        deletionVector: sharedVector(20),
      }),
    ]);
    await checkpointOfA(s, 2);
    s.commit(3, [{ commitInfo: { timestamp: now, operation: 'WRITE' } }]);
    // The complete history's load lists the log; before it reads checkpoint 0, a writer commits
    // and checkpoints 4, and a cleanup deletes every older file.
    // (The third read of checkpoint 0: the first two are the complete history's look at its header.)
    const backend = memoryBackend(putBodies(s), 't/');
    const get = backend.get.bind(backend);
    let cpReads = 0;
    let racing = false;
    let raced = false;
    backend.get = async (ref, o) => {
      if (racing && ref.key === `t/${checkpointKey(0)}` && ++cpReads === 3) {
        racing = false;
        raced = true;
        s.commit(4, [{ commitInfo: { timestamp: now, operation: 'WRITE' } }]);
        await checkpointOfA(s, 4);
        s.commit(5, [addA()]); // a points at the shared file again
        for (const v of [0, 1, 2, 3]) s.files.delete(commitKey(v));
        for (const v of [0, 2]) s.files.delete(checkpointKey(v));
      }
      return get(ref, o);
    };
    const { allows } = memoryAuthorizer(s, grants, clock, backend);
    expect(await allows('eu', 'region=EU/a.parquet')).toBe(true); // snapshot at 3
    racing = true;
    const first = await allows('eu', sharedFile).then(
      (ok) => (ok ? 200 : 403),
      (e: { code?: string }) => e.code ?? String(e),
    );
    expect(raced).toBe(true);
    expect(first).not.toBe(403);
    expect([200, 'ServiceUnavailable']).toContain(first);

    clock.advance(61_000); // the snapshot is refreshed (version 5)
    expect(await allows('eu', sharedFile)).toBe(true);
  });
});
