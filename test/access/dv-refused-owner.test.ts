/**
 * A file whose add is refused for its partition values (a partition column missing, or added
 * twice with different values) has no partition the proxy can place it in. A deletion-vector file
 * holding its vector, shared with a granted file, must not go to a caller granted only that file:
 * the refused file may be of any partition (the history refuses a vector of an unplaced file so).
 */
import { describe, expect, it } from 'vitest';
import { dvFile, TableRoot } from '../../lambda/delta/table-root';
import { ManualClock } from '../helpers/authz-harness';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import { addAction, DV_ENABLED, dvProtocol, metaData, sharedVector } from '../helpers/log-text';
import { memoryAuthorizer } from '../helpers/memory-authz';

const meta = metaData(['region'], { configuration: DV_ENABLED });
const sharedFile = dvFile(new TableRoot('s3://bkt/t'), sharedVector(1))!.relPath!;

const grants = [
  { principal: 'eu', table: 't', partitions: [{ region: 'EU' }] },
  { principal: 'all', table: 't', partitions: [{}] },
];

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
    s.commit(0, [
      dvProtocol,
      meta,
      addAction('region=EU/a.parquet', { region: 'EU' }, { deletionVector: sharedVector(1) }),
      ...refused,
    ]);
    s.put('region=EU/a.parquet', 'EU!!')
      .put('region=US/b.parquet', 'US!!')
      .put(sharedFile, 'VECTORS OF EU AND US');
    const { allows } = memoryAuthorizer(s, grants, clock);
    expect(await allows('eu', 'region=EU/a.parquet')).toBe(true);
    expect(await allows('eu', 'region=US/b.parquet')).toBe(false);
    expect(await allows('eu', sharedFile)).toBe(false);
  });
});
