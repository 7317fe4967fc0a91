/**
 * A file whose add is refused for its partition values (a partition column missing, or added
 * twice with different values) has no partition the proxy can place it in. A deletion-vector file
 * holding its vector, shared with a granted file, must not go to a caller granted only that file:
 * the refused file may be of any partition (the history refuses a vector of an unplaced file so).
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../helpers/authz-harness';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import { addAction, dvProtocol, sharedVector } from '../helpers/log-text';
import { memoryAuthorizer } from '../helpers/memory-authz';
import {
  addA,
  DV_META,
  EU_AND_ALL as grants,
  putBodies,
  SHARED_DV_FILE as sharedFile,
} from '../helpers/shared-dv-table';

describe('a shared deletion-vector file whose other owner is refused for its partition values', () => {
  it.each([
    [
      'missing its partition column',
      [addAction('region=US/b.parquet', {}, { deletionVector: sharedVector(20) })],
    ],
    [
      'added twice with different values',
      [
        addAction('region=US/b.parquet', { region: 'US' }, { deletionVector: sharedVector(20) }),
        addAction('region=US/b.parquet', { region: 'EU' }, { deletionVector: sharedVector(20) }),
      ],
    ],
  ])('is refused to a caller granted only the placed owner (%s)', async (_name, refused) => {
    const clock = new ManualClock();
    const s = new MemoryDeltaStorage();
    s.commit(0, [dvProtocol, DV_META, addA(), ...refused]);
    const { allows } = memoryAuthorizer(putBodies(s), grants, clock);
    expect(await allows('eu', 'region=EU/a.parquet')).toBe(true);
    expect(await allows('eu', 'region=US/b.parquet')).toBe(false);
    expect(await allows('eu', sharedFile)).toBe(false);
  });
});
