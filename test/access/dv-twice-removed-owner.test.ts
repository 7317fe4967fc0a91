/**
 * A removed file whose remove carries no partition values is placed by its add. When the same
 * file is removed that way twice (its deletion vector updated twice), the first remove's
 * deletion-vector file still holds that file's vector: a caller not granted the file's partition
 * must not read it, also when a granted file shares it.
 */
import { describe, expect, it } from 'vitest';
import { dvFile, TableRoot } from '../../lambda/delta/table-root';
import { ManualClock } from '../helpers/authz-harness';
import { MemoryDeltaStorage } from '../helpers/delta-memory-storage';
import {
  addAction,
  DV_ENABLED,
  dvProtocol,
  metaData,
  pathVector,
  removeAction,
  sharedVector,
} from '../helpers/log-text';
import { memoryAuthorizer } from '../helpers/memory-authz';

const meta = metaData(['region'], { configuration: DV_ENABLED });
const sharedFile = dvFile(new TableRoot('s3://bkt/t'), sharedVector(1))!.relPath!;
const vectorOfB = (n: number) => pathVector(`s3://bkt/t/region=US/vectors-of-b-${n}.bin`);

const grants = [
  { principal: 'eu', table: 't', partitions: [{ region: 'EU' }] },
  { principal: 'all', table: 't', partitions: [{}] },
];

/** US b's vector moves off the shared file, then again; each remove without partition values. */
function table(now: number, updates: number) {
  const s = new MemoryDeltaStorage();
  s.commit(0, [
    dvProtocol,
    meta,
    addAction('region=EU/a.parquet', { region: 'EU' }, { deletionVector: sharedVector(1) }),
    addAction('region=US/b.parquet', { region: 'US' }, { deletionVector: sharedVector(20) }),
  ]);
  let previous: object = sharedVector(20);
  for (let v = 1; v <= updates; v++) {
    s.commit(v, [
      removeAction('region=US/b.parquet', { deletionTimestamp: now, deletionVector: previous }),
      addAction('region=US/b.parquet', { region: 'US' }, { deletionVector: vectorOfB(v) }),
    ]);
    previous = vectorOfB(v);
  }
  s.put('region=EU/a.parquet', 'EU!!')
    .put('region=US/b.parquet', 'US!!')
    .put(sharedFile, 'VECTORS OF EU AND US');
  return s;
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
