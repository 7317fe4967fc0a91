/**
 * A shared deletion-vector file whose other owner was removed past its retention: only the
 * complete history (the retained commits) knows that owner. When an old retained commit cannot be
 * read, the file must stay refused to a caller not granted that owner, not be served as if the
 * history had nothing to say.
 */
import { describe, expect, it } from 'vitest';
import { dvFile, TableRoot } from '../../lambda/delta/table-root';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import { ManualClock } from '../helpers/authz-harness';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import {
  addAction,
  commitKey,
  DV_ENABLED,
  dvProtocol,
  metaData,
  removeAction,
  sharedVector,
} from '../helpers/log-text';
import { memoryAuthorizer } from '../helpers/memory-authz';

const DAY = 86_400_000;
const meta = metaData(['region'], { configuration: DV_ENABLED });
const sharedFile = dvFile(new TableRoot('s3://bkt/t'), sharedVector(1))!.relPath!;

const grants = [
  { principal: 'eu', table: 't', partitions: [{ region: 'EU' }] },
  { principal: 'all', table: 't', partitions: [{}] },
];

describe('a shared deletion-vector file when an old retained commit cannot be read', () => {
  it('is refused to a caller granted only the active owner', async () => {
    const clock = new ManualClock();
    const now = clock.now();
    const s = new MemoryDeltaStorage();
    // v0: EU a and US b share the file; v1: b removed 10 days ago (past the 7-day retention).
    s.commit(0, [
      dvProtocol,
      meta,
      addAction('region=EU/a.parquet', { region: 'EU' }, { deletionVector: sharedVector(1) }),
      addAction('region=US/b.parquet', { region: 'US' }, { deletionVector: sharedVector(20) }),
    ]);
    s.commit(1, [
      removeAction('region=US/b.parquet', {
        partitionValues: { region: 'US' },
        deletionTimestamp: now - 10 * DAY,
        deletionVector: sharedVector(20),
      }),
    ]);
    // v2: damaged (a torn write); readers start from checkpoint 3 and never read it.
    s.put(commitKey(2), '{"commitInfo":{"timestamp":0}}\n{"add":');
    s.commit(3, [{ commitInfo: { timestamp: now - DAY, operation: 'WRITE' } }]);
    await writeCheckpoint(
      { put: async (rel, bytes) => void s.put(rel, bytes) },
      3,
      dvProtocol.protocol,
      meta.metaData,
      [
        {
          path: 'region=EU/a.parquet',
          partitionValues: { region: 'EU' },
          size: 1,
          modificationTime: 0,
          dataChange: false,
        },
      ],
    );
    // v4: EU a points at the shared file again (its vector rewritten in place).
    s.commit(4, [addAction('region=EU/a.parquet', { region: 'EU' }, { deletionVector: sharedVector(1) })]);
    s.put('region=EU/a.parquet', 'EU!!')
      .put('region=US/b.parquet', 'US!!')
      .put(sharedFile, 'VECTORS OF EU AND US');
    const { allows, authorizer, mount } = memoryAuthorizer(s, grants, clock);
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
