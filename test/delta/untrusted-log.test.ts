/**
 * The log is untrusted input, and its mistakes must fail closed: a file whose partitionValues
 * lack a partition column is refused (the protocol requires every column; it is not the null
 * partition); a deletion vector's or a change-data action's path never makes a data file of
 * another partition readable; a deletion-vector file shared by files of several partitions is
 * readable only by a caller who may read all of them.
 */
import { describe, expect, it } from 'vitest';
import { AllowedSet } from '../../lambda/access/allowed-set';
import type { PartitionMap } from '../../lambda/access/grant';
import { historyVerdict } from '../../lambda/access/history-access';
import { loadHistory } from '../../lambda/delta/load-history';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { NO_TUPLE } from '../../lambda/delta/snapshot-view';
import { MemoryDeltaStorage, repeatedKeyCheckpoint } from '../helpers/delta-memory-storage';
import {
  add,
  commitKey,
  dvProtocol,
  metaData,
  pathVector,
  protocolV1,
  remove,
  sharedVector,
} from '../helpers/log-text';

const tableUri = 's3://bucket/t';

async function readable(s: MemoryDeltaStorage, maps: PartitionMap[], paths: string[]) {
  const snapshot = await loadSnapshot(s, { tableUri });
  const set = new AllowedSet(snapshot, maps);
  return Object.fromEntries(paths.map((p) => [p, set.isReadable(p)]));
}

describe('a file whose partitionValues lack a partition column', () => {
  it('is refused, not read as the null partition (JSON commit)', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      protocolV1,
      metaData(['region']),
      add('region=US/lacks.parquet', {}),
      add('region=__HIVE_DEFAULT_PARTITION__/null.parquet', { region: null }),
    ]);
    const snapshot = await loadSnapshot(s, { tableUri });
    expect(snapshot.tupleOf('region=US/lacks.parquet')).toBe(NO_TUPLE);
    const paths = ['region=US/lacks.parquet', 'region=__HIVE_DEFAULT_PARTITION__/null.parquet'];
    expect(await readable(s, [{ region: null }], paths)).toEqual({ [paths[0]!]: false, [paths[1]!]: true });
    expect(await readable(s, [{}], paths)).toEqual({ [paths[0]!]: false, [paths[1]!]: true });
  });

  it('is refused, not read as the null partition (checkpoint)', async () => {
    const s = await new MemoryDeltaStorage().checkpoint(0, [
      { path: 'region=US/lacks.parquet', partitionValues: {} },
      { path: 'region=__HIVE_DEFAULT_PARTITION__/null.parquet', partitionValues: { region: null } },
      { path: 'region=EU/eu.parquet', partitionValues: { region: 'EU' } },
    ]);
    s.commit(0, [protocolV1, metaData(['region'])]);
    const paths = [
      'region=US/lacks.parquet',
      'region=__HIVE_DEFAULT_PARTITION__/null.parquet',
      'region=EU/eu.parquet',
    ];
    expect(await readable(s, [{ region: null }, { region: 'EU' }], paths)).toEqual({
      [paths[0]!]: false,
      [paths[1]!]: true,
      [paths[2]!]: true,
    });
  });

  it('is refused when a checkpoint map repeats a column in place of another (checkpoint)', async () => {
    // A Parquet map may hold a key twice: [region=EU, region=EU] names one column of two, as the
    // same map in JSON would (the last of a repeated key counts), so the file lacks `b`.
    const s = await repeatedKeyCheckpoint();
    const snapshot = await loadSnapshot(s, { tableUri });
    expect(snapshot.tupleOf('twice.parquet')).toBe(NO_TUPLE);
    expect(await readable(s, [{ region: 'EU', b: null }], ['twice.parquet', 'whole.parquet'])).toEqual({
      'twice.parquet': false,
      'whole.parquet': true,
    });
  });

  it('replaces (and so hides) an earlier add of the same path', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [protocolV1, metaData(['region']), add('region=EU/f.parquet', { region: 'EU' })])
      .commit(1, [add('region=EU/f.parquet', {})]);
    expect(await readable(s, [{ region: 'EU' }, { region: null }], ['region=EU/f.parquet'])).toEqual({
      'region=EU/f.parquet': false,
    });
  });
});

describe('a file whose partitionValues are not a map of strings', () => {
  it('is refused, not read as the text JavaScript would make of it', async () => {
    // A JSON number, boolean, array or object is no serialized partition value: readers refuse
    // the action (delta-rs) or read the number's own text (Jackson: "1.0", not "1"). String()
    // made ["EU"] the partition EU and 1.0 the partition 1.
    const lines = [protocolV1, metaData(['region']), add('region=EU/ok.parquet', { region: 'EU' })].map((a) =>
      JSON.stringify(a),
    );
    const raw = (path: string, pv: string) =>
      `{"add":{"path":"${path}","partitionValues":${pv},"size":1,"modificationTime":0,"dataChange":true}}`;
    lines.push(
      raw('region=EU/array.parquet', '{"region":["EU"]}'),
      raw('region=1/number.parquet', '{"region":1.0}'),
      raw('region=true/bool.parquet', '{"region":true}'),
      raw('region=EU/object.parquet', '{"region":{"toString":"EU"}}'),
      raw('region=EU/list.parquet', '["EU"]'),
      raw('region=EU/text.parquet', '"EU"'),
    );
    const s = new MemoryDeltaStorage().put(commitKey(0), `${lines.join('\n')}\n`);
    const snapshot = await loadSnapshot(s, { tableUri });
    const odd = [
      'region=EU/array.parquet',
      'region=1/number.parquet',
      'region=true/bool.parquet',
      'region=EU/object.parquet',
      'region=EU/list.parquet',
      'region=EU/text.parquet',
    ];
    for (const p of odd) expect([p, snapshot.tupleOf(p)]).toEqual([p, NO_TUPLE]);
    const set = new AllowedSet(snapshot, [{ region: 'EU' }, { region: '1' }, { region: 'true' }]);
    expect(odd.filter((p) => set.isReadable(p))).toEqual([]);
    expect(set.isReadable('region=EU/ok.parquet')).toBe(true);
  });
});

describe('paths of deletion vectors and change data', () => {
  it('a path-based deletion vector naming a data file of another partition does not make it readable', async () => {
    const dv = (path: string) => pathVector(`${tableUri}/${path}`);
    const s = new MemoryDeltaStorage()
      .commit(0, [
        dvProtocol,
        metaData(['region']),
        add('region=US/removed.parquet', { region: 'US' }),
        add('region=US/active.parquet', { region: 'US' }),
      ])
      .commit(1, [
        remove('region=US/removed.parquet'),
        add('region=EU/a.parquet', { region: 'EU' }, dv('region=US/removed.parquet')),
        add('region=EU/b.parquet', { region: 'EU' }, dv('region=US/active.parquet')),
        add('region=EU/c.parquet', { region: 'EU' }, dv('region=EU/deletion_vector_x.bin')),
      ]);
    expect(
      await readable(
        s,
        [{ region: 'EU' }],
        [
          'region=US/removed.parquet',
          'region=US/active.parquet',
          'region=EU/a.parquet',
          'region=EU/deletion_vector_x.bin',
        ],
      ),
    ).toEqual({
      'region=US/removed.parquet': false,
      'region=US/active.parquet': false,
      'region=EU/a.parquet': true,
      'region=EU/deletion_vector_x.bin': true,
    });
  });

  it('a cdc action naming a file outside _change_data/ does not make it readable', async () => {
    const cdc = (path: string, region: string) => ({
      cdc: { path, partitionValues: { region }, size: 1, dataChange: false },
    });
    const s = new MemoryDeltaStorage()
      .commit(0, [protocolV1, metaData(['region']), add('region=US/removed.parquet', { region: 'US' })])
      .commit(1, [
        remove('region=US/removed.parquet'),
        cdc('region=US/removed.parquet', 'EU'),
        cdc('_change_data/region=EU/cdc-1.parquet', 'EU'),
      ]);
    expect(
      await readable(
        s,
        [{ region: 'EU' }],
        ['region=US/removed.parquet', '_change_data/region=EU/cdc-1.parquet'],
      ),
    ).toEqual({ 'region=US/removed.parquet': false, '_change_data/region=EU/cdc-1.parquet': true });
    // Nor does the retained history (the second look for removed files) take it as change data.
    const h = await loadHistory(s, await loadSnapshot(s, { tableUri }));
    const eu = new AllowedSet(h, [{ region: 'EU' }]);
    expect(historyVerdict(h, eu, 'region=US/removed.parquet', 0)).toBe('forbidden');
    expect(historyVerdict(h, eu, '_change_data/region=EU/cdc-1.parquet', 0)).toBe('readable');
  });

  it('a deletion-vector file shared by files of two partitions is readable only with both', async () => {
    const s = new MemoryDeltaStorage().commit(0, [
      dvProtocol,
      metaData(['region']),
      add('region=EU/a.parquet', { region: 'EU' }, sharedVector(1)),
      add('region=US/b.parquet', { region: 'US' }, sharedVector(20)),
    ]);
    const snapshot = await loadSnapshot(s, { tableUri });
    let dvFile = '';
    snapshot.forEachFile((p) => {
      if (p.endsWith('.bin')) dvFile = p;
    });
    expect(dvFile).toMatch(/deletion_vector_.*\.bin$/);
    expect(await readable(s, [{ region: 'EU' }], [dvFile, 'region=EU/a.parquet'])).toEqual({
      [dvFile]: false,
      'region=EU/a.parquet': true,
    });
    expect(await readable(s, [{ region: 'EU' }, { region: 'US' }], [dvFile])).toEqual({ [dvFile]: true });
  });

  it('a deletion-vector file is refused in history while one of its files has no known partition', async () => {
    const s = new MemoryDeltaStorage()
      .commit(0, [
        dvProtocol,
        metaData(['region']),
        add('region=EU/a.parquet', { region: 'EU' }, sharedVector(1)),
      ])
      // A remove without partition values, of a file no retained version added: its partition is unknown.
      .commit(1, [remove('region=US/gone.parquet', sharedVector(20))]);
    const snapshot = await loadSnapshot(s, { tableUri });
    let dvFile = '';
    snapshot.forEachFile((p) => {
      if (p.endsWith('.bin')) dvFile = p;
    });
    const h = await loadHistory(s, snapshot);
    expect(h.complete).toBe(true);
    expect(historyVerdict(h, new AllowedSet(h, [{ region: 'EU' }]), dvFile, 0)).toBe('forbidden');
    // The whole table's grant covers any partition: the history adds nothing to the snapshot's answer.
    expect(historyVerdict(h, new AllowedSet(h, [{}]), dvFile, 0)).toBe('unknown');
  });
});
