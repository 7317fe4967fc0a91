/**
 * Retention arithmetic. A removed file is readable in a granted partition until its
 * deletionTimestamp + `delta.deletedFileRetentionDuration` (README, Access control), then refused.
 */
import { describe, expect, it } from 'vitest';
import { AllowedSetCache } from '../../lambda/access/allowed-set-cache';
import { HistoryLookup } from '../../lambda/access/history-lookup';
import { silentLogger } from '../../lambda/core/logger';
import { deletedFileRetentionMs, parseInterval, RETENTION_PROPERTY } from '../../lambda/delta/retention';
import { SnapshotCache } from '../../lambda/delta/snapshot-cache';
import { add, MemoryDeltaStorage, metaData } from '../helpers/delta-memory-storage';
import { protocol } from '../helpers/log-text';

const URI = 's3://bucket/t';
const MOUNT = { alias: 't', bucket: 'bucket', prefix: 't/', uri: URI };
const DAY = 24 * 3600 * 1000;
const T0 = Date.UTC(2026, 0, 1);
const EU = [{ region: 'EU' }];

async function verdictAt(s: MemoryDeltaStorage, rel: string, now: number) {
  const clock = { now: () => now };
  const snapshots = new SnapshotCache({ ttlMs: 1e12, maxBytes: 1 << 26, clock });
  const lookup = new HistoryLookup({
    snapshots,
    allowedSets: new AllowedSetCache(),
    clock,
    logger: silentLogger,
  });
  const snapshot = await snapshots.get(URI, s, URI);
  return lookup.verdict({ name: 'p', anonymous: false }, MOUNT, s, snapshot, EU, rel);
}

describe('retention of a removed file', () => {
  it('a checkpoint tombstone without deletionTimestamp dates from 0, as VACUUM reads it, not from the checkpoint', async () => {
    // Commit 1 removes a.parquet at T0 (deletionTimestamp T0, Spark's usual form). A later JSON
    // (v2) checkpoint carries the tombstone without deletionTimestamp (optional in the protocol;
    // Spark and delta-rs read a missing one as 0). The checkpoint was written 6 days later.
    const a = 'region=EU/a.parquet';
    const v2 = protocol(3, 7, ['v2Checkpoint']);
    const s = new MemoryDeltaStorage();
    s.commit(0, [
      { commitInfo: { timestamp: T0 - DAY } },
      v2,
      metaData(['region']),
      add(a, { region: 'EU' }),
    ]);
    s.commit(1, [
      { commitInfo: { timestamp: T0 } },
      { remove: { path: a, deletionTimestamp: T0, dataChange: true, partitionValues: { region: 'EU' } } },
      add('region=EU/b.parquet', { region: 'EU' }),
    ]);
    const cp = '_delta_log/00000000000000000001.checkpoint.3a0d65cd-4056-49b8-937b-95f9e3ee90e5.json';
    const lines = [
      { checkpointMetadata: { version: 1 } },
      v2,
      metaData(['region']),
      add('region=EU/b.parquet', { region: 'EU' }),
      { remove: { path: a, dataChange: true, partitionValues: { region: 'EU' } } },
    ];
    s.put(cp, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    s.lastModified = new Date(T0);
    s.modified.set(cp, new Date(T0 + 6 * DAY));

    // The newest checkpoint is the state VACUUM reads: with no timestamp its tombstone is 0, and
    // the file may be deleted at once. Dated by the checkpoint's own time instead, each checkpoint
    // repeating the tombstone renewed it (readable here at T0 + 8 days, past any retention).
    expect(await verdictAt(s, a, T0 + 6 * DAY)).toBe('expired');
    expect(await verdictAt(s, a, T0 + 8 * DAY)).toBe('expired');
  });
});

describe('parseInterval', () => {
  it.each(['interval 1 constructor', 'interval 1 __proto__'])(
    'refuses %j (no unit): retention 0, not NaN',
    (text) => {
      expect(parseInterval(text)).toBeUndefined();
      expect(deletedFileRetentionMs({ configuration: { [RETENTION_PROPERTY]: text } } as never)).toBe(0);
    },
  );
});
