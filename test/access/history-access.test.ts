/**
 * The history rule as the authorizer applies it: a removed file is readable in a granted
 * partition until deletionTimestamp + retention, change data while its commit is retained, a
 * deletion-vector file only if every owner's partition is granted; listings add only change data.
 */
import { describe, expect, it } from 'vitest';
import { AllowedSet } from '../../lambda/access/allowed-set';
import { changeDataListing, historyVerdict } from '../../lambda/access/history-access';
import { loadHistory } from '../../lambda/delta/load-history';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { add, MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';

const HOUR = 3_600_000;

async function history() {
  const s = new MemoryDeltaStorage()
    .commit(0, [
      protocolV1,
      metaData(['region'], { configuration: { 'delta.deletedFileRetentionDuration': 'interval 2 hours' } }),
      add('region=EU/a.parquet', { region: 'EU' }),
      add('region=US/b.parquet', { region: 'US' }),
    ])
    .commit(1, [
      {
        remove: {
          path: 'region=EU/a.parquet',
          deletionTimestamp: 10 * HOUR,
          partitionValues: { region: 'EU' },
        },
      },
      {
        remove: {
          path: 'region=US/b.parquet',
          deletionTimestamp: 10 * HOUR,
          partitionValues: { region: 'US' },
        },
      },
      { cdc: { path: '_change_data/region=EU/c.parquet', partitionValues: { region: 'EU' }, size: 1 } },
      { cdc: { path: '_change_data/region=US/d.parquet', partitionValues: { region: 'US' }, size: 1 } },
    ]);
  return loadHistory(s, await loadSnapshot(s, { tableUri: 's3://b/t' }));
}

describe('historyVerdict', () => {
  it('serves a removed file in a granted partition until its retention has passed', async () => {
    const h = await history();
    const eu = new AllowedSet(h, [{ region: 'EU' }]);
    expect(historyVerdict(h, eu, 'region=EU/a.parquet', 11 * HOUR)).toBe('readable');
    expect(historyVerdict(h, eu, 'region=EU/a.parquet', 12 * HOUR - 1)).toBe('readable');
    expect(historyVerdict(h, eu, 'region=EU/a.parquet', 12 * HOUR)).toBe('expired');
    expect(historyVerdict(h, eu, 'region=US/b.parquet', 11 * HOUR)).toBe('forbidden');
    expect(historyVerdict(h, eu, 'region=EU/never.parquet', 11 * HOUR)).toBe('unknown');
  });

  it('serves change data in granted partitions whatever the time', async () => {
    const h = await history();
    const eu = new AllowedSet(h, [{ region: 'EU' }]);
    expect(historyVerdict(h, eu, '_change_data/region=EU/c.parquet', 1e15)).toBe('readable');
    expect(historyVerdict(h, eu, '_change_data/region=US/d.parquet', 0)).toBe('forbidden');
  });
});

describe('changeDataListing', () => {
  it('lists readable change data and its folders, never removed files', async () => {
    const h = await history();
    const l = await changeDataListing(h, new AllowedSet(h, [{ region: 'EU' }]));
    expect(l.allowObject('_change_data/region=EU/c.parquet')).toBe(true);
    expect(l.allowObject('_change_data/region=US/d.parquet')).toBe(false);
    expect(l.allowObject('region=EU/a.parquet')).toBe(false);
    expect(
      ['_change_data/', '_change_data/region=EU/', '_change_data/region=US/', 'region=EU/'].map(
        l.allowPrefix,
      ),
    ).toEqual([true, true, false, false]);
    expect(l.allowPrefix('_change_data/region=E')).toBe(true);
    const none = await changeDataListing(h, new AllowedSet(h, []));
    expect(none.allowPrefix('_change_data/')).toBe(false);
  });
});
