/**
 * Delta reconciles file actions by (path, deletion-vector id): an add of a file with a new vector
 * and no remove of the old one leaves the old logical file active (PROTOCOL.md, Action
 * Reconciliation), and the old vector with it. A deletion-vector file holding that vector, shared
 * with a granted file, must stay refused to a caller not granted the file's partition.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../helpers/authz-harness';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import { addAction, pathVector } from '../helpers/log-text';
import { memoryAuthorizer } from '../helpers/memory-authz';
import {
  EU_AND_ALL as grants,
  putBodies,
  SHARED_DV_FILE as sharedFile,
  TWO_OWNERS,
} from '../helpers/shared-dv-table';

describe('a shared deletion-vector file whose other owner is added again with another vector', () => {
  it.each([
    ['a new vector', pathVector('s3://bkt/t/region=US/vectors-of-b.bin')],
    ['no vector', undefined],
  ])('is refused to a caller granted only the first owner (%s)', async (_name, vector) => {
    const clock = new ManualClock();
    const s = new MemoryDeltaStorage();
    s.commit(0, TWO_OWNERS);
    // No remove of (b, shared vector): that logical file stays active.
    s.commit(1, [
      addAction('region=US/b.parquet', { region: 'US' }, vector ? { deletionVector: vector } : {}),
    ]);
    const { allows } = memoryAuthorizer(putBodies(s), grants, clock);
    expect(await allows('eu', 'region=EU/a.parquet')).toBe(true);
    expect(await allows('eu', sharedFile)).toBe(false);
    expect(await allows('all', sharedFile)).toBe(true);
  });
});
