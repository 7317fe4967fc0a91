import { describe, expect, it } from 'vitest';
import { AllowedSetCache } from '../../lambda/access/allowed-set-cache';
import type { Grant, GrantStore } from '../../lambda/access/grant';
import { ConfigGrantStore, effectivePartitions, UnionGrantStore } from '../../lambda/access/grant-sources';
import { gc } from '../helpers/heap';
import { InMemorySnapshot } from './in-memory-snapshot';

const config = new ConfigGrantStore({
  grants: [
    { principal: 'analyst', table: 'trades', partitions: [{ region: 'US' }] },
    { principal: 'analyst', table: 'trades', partitions: [{ region: 'EU', date: null }] },
    { principal: 'anonymous', table: 'public', partitions: [{}] },
  ],
  allowedPartitions: { trades: [{ date: '2024-01-01' }], shared: [{}] },
});

describe('ConfigGrantStore', () => {
  it('gives a principal its own grants plus allowedPartitions', async () => {
    const grants = await config.grantsFor('analyst');
    expect(effectivePartitions(grants, 'trades')).toEqual([
      { region: 'US' },
      { region: 'EU', date: null },
      { date: '2024-01-01' },
    ]);
    expect(effectivePartitions(grants, 'shared')).toEqual([{}]);
  });

  it('gives any other authenticated principal allowedPartitions only', async () => {
    const grants = await config.grantsFor('someone-else');
    expect(effectivePartitions(grants, 'trades')).toEqual([{ date: '2024-01-01' }]);
    expect(effectivePartitions(grants, 'public')).toBeUndefined();
  });

  it('gives anonymous only grants written for "anonymous", not allowedPartitions', async () => {
    const grants = await config.grantsFor('anonymous');
    expect(effectivePartitions(grants, 'public')).toEqual([{}]);
    expect(effectivePartitions(grants, 'trades')).toBeUndefined();
    expect(effectivePartitions(grants, 'shared')).toBeUndefined();
  });

  it('denies by default: no config at all means no table', async () => {
    const empty = new ConfigGrantStore({});
    expect(effectivePartitions(await empty.grantsFor('analyst'), 'trades')).toBeUndefined();
  });
});

describe('effectivePartitions', () => {
  const g = (table: string, partitions: Grant['partitions']): Grant => ({
    principal: 'p',
    table,
    partitions,
  });

  it('tells "no grant" (undefined) from "granted nothing" ([])', () => {
    expect(effectivePartitions([g('a', [])], 'a')).toEqual([]);
    expect(effectivePartitions([g('a', [])], 'b')).toBeUndefined();
  });

  it('collapses to [{}] when any map grants the whole table, and drops duplicate maps', () => {
    expect(effectivePartitions([g('a', [{ x: '1' }]), g('a', [{}])], 'a')).toEqual([{}]);
    expect(effectivePartitions([g('a', [{ x: '1', y: '2' }]), g('a', [{ y: '2', x: '1' }])], 'a')).toEqual([
      { x: '1', y: '2' },
    ]);
  });

  it('returns the same array for the same grants (cheap on cached store answers)', () => {
    const grants = [g('a', [{ x: '1' }])];
    expect(effectivePartitions(grants, 'a')).toBe(effectivePartitions(grants, 'a'));
  });
});

describe('UnionGrantStore', () => {
  it('unions every store and fails closed when one store fails', async () => {
    const failing: GrantStore = {
      grantsFor: async () => {
        throw new Error('dynamodb down');
      },
    };
    const extra: GrantStore = {
      grantsFor: async (p) => [{ principal: p, table: 'extra', partitions: [{}] }],
    };
    const union = new UnionGrantStore([config, extra]);
    const grants = await union.grantsFor('analyst');
    expect(effectivePartitions(grants, 'extra')).toEqual([{}]);
    expect(effectivePartitions(grants, 'trades')).toHaveLength(3);
    await expect(new UnionGrantStore([config, failing]).grantsFor('analyst')).rejects.toThrow(
      'dynamodb down',
    );
  });

  it('returns the same array while its stores return the same arrays', async () => {
    const union = new UnionGrantStore([config, config]);
    expect(await union.grantsFor('analyst')).toBe(await union.grantsFor('analyst'));
  });
});

describe('AllowedSetCache', () => {
  const columns = [{ logical: 'region', physical: 'region', type: 'string' }];
  const files = [
    { path: 'region=US/a.parquet', values: ['US'] },
    { path: 'region=EU/b.parquet', values: ['EU'] },
  ];

  it('reuses a set for the same principal, table, snapshot and maps', async () => {
    const cache = new AllowedSetCache(8);
    const snap = new InMemorySnapshot(columns, files, 3);
    const maps = [{ region: 'US' }];
    const a = await cache.get('p', 't', snap, maps);
    expect(await cache.get('p', 't', snap, maps)).toBe(a);
    expect(await cache.get('p', 't', snap, [{ region: 'US' }])).toBe(a);
    expect(cache.hits).toBe(2);
  });

  it('rebuilds when grants change (a revocation) even if the snapshot did not', async () => {
    const cache = new AllowedSetCache(8);
    const snap = new InMemorySnapshot(columns, files, 3);
    expect((await cache.get('p', 't', snap, [{ region: 'US' }])).isReadable('region=US/a.parquet')).toBe(
      true,
    );
    expect((await cache.get('p', 't', snap, [{ region: 'EU' }])).isReadable('region=US/a.parquet')).toBe(
      false,
    );
  });

  it('rebuilds for a new snapshot and stays bounded', async () => {
    const cache = new AllowedSetCache(2);
    const v3 = new InMemorySnapshot(columns, files, 3);
    const v4 = new InMemorySnapshot(columns, [...files, { path: 'region=US/c.parquet', values: ['US'] }], 4);
    const maps = [{ region: 'US' }];
    expect((await cache.get('p', 't', v3, maps)).isReadable('region=US/c.parquet')).toBe(false);
    expect((await cache.get('p', 't', v4, maps)).isReadable('region=US/c.parquet')).toBe(true);
    await cache.get('q', 't', v4, maps);
    await cache.get('r', 't', v4, maps);
    expect(cache.sizeFor(v4)).toBe(2);
  });

  it('shares one build between concurrent requests of a caller on a snapshot', async () => {
    const cache = new AllowedSetCache(8);
    // Enough tuples that the build takes several slices, other requests arriving in between.
    const many = Array.from({ length: 50_000 }, (_, i) => ({
      path: `region=R${i}/f.parquet`,
      values: [`R${i}`],
    }));
    const snap = new InMemorySnapshot(columns, many, 3);
    const sets = await Promise.all(
      Array.from({ length: 8 }, () => cache.get('p', 't', snap, [{ region: 'R7' }])),
    );
    expect(new Set(sets).size).toBe(1);
    expect(cache.misses).toBe(1);
    expect(sets[0]!.isReadable('region=R7/f.parquet')).toBe(true);
    expect(sets[0]!.allowedTupleCount).toBe(1);
  });

  it('does not keep a build that failed: the next request builds again', async () => {
    const cache = new AllowedSetCache(8);
    const snap = new InMemorySnapshot(columns, files, 3);
    const tupleValues = snap.tupleValues.bind(snap);
    snap.tupleValues = () => {
      throw new RangeError('tuple table unreadable');
    };
    const failing = [
      cache.get('p', 't', snap, [{ region: 'US' }]),
      cache.get('p', 't', snap, [{ region: 'US' }]),
    ];
    for (const f of failing) await expect(f).rejects.toThrow('tuple table unreadable');
    expect(cache.sizeFor(snap)).toBe(0);
    snap.tupleValues = tupleValues;
    expect((await cache.get('p', 't', snap, [{ region: 'US' }])).isReadable('region=US/a.parquet')).toBe(
      true,
    );
    expect(cache.sizeFor(snap)).toBe(1);
  });

  it('does not keep a dropped snapshot alive', async () => {
    const cache = new AllowedSetCache(8);
    let snap: InMemorySnapshot | undefined = new InMemorySnapshot(columns, files, 5);
    const ref = new WeakRef(snap);
    await cache.get('p', 't', snap, [{ region: 'US' }]);
    await cache.get('q', 't', snap, [{ region: 'EU' }]);
    snap = undefined;
    for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
      await new Promise((r) => setTimeout(r, 10));
      gc();
    }
    expect(ref.deref()).toBeUndefined();
  });
});
