/** The compact path index behaves like a Map<string, number>, also when fed encoded bytes. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LayeredMap } from '../../lambda/delta/layered-map';
import { PathIndex } from '../../lambda/delta/path-index';
import { decodePath, TableRoot } from '../../lambda/delta/table-root';

const enc = new TextEncoder();

describe('PathIndex', () => {
  it('matches a Map under random set/delete/get, with non-ASCII keys', () => {
    const keys = fc.constantFrom('a', 'b/c.parquet', 'x=😈/f', 'ü/ß', 'a/b', 'long/'.repeat(40), 'é');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('set', 'delete'), keys, fc.integer({ min: 0, max: 99 })), {
          maxLength: 200,
        }),
        (ops) => {
          const p = new PathIndex();
          const m = new Map<string, number>();
          for (const [op, k, v] of ops) {
            if (op === 'set') {
              p.set(k, v);
              m.set(k, v);
            } else expect(p.delete(k)).toBe(m.delete(k));
            expect(p.get(k)).toBe(m.get(k));
            expect(p.size).toBe(m.size);
          }
          const seen = new Map<string, number>();
          p.forEach((v, k) => {
            seen.set(k, v);
          });
          expect(seen).toEqual(m);
        },
      ),
    );
  });

  it('matches a Map across folders, rehashes and deletions, with long names and lone surrogates', () => {
    const folder = fc.constantFrom(
      '',
      'date=2024-01-01/',
      'date=2024-01-01/region=eu/',
      'ü=1/',
      'x/y/z/',
      'a%2Fb/',
    );
    const name = fc.oneof(
      fc.constantFrom(
        'part-0.parquet',
        'part-1.parquet',
        'ß.bin',
        '😈',
        '%41',
        'n'.repeat(254),
        'n'.repeat(255),
      ),
      fc.constantFrom('\ud800x', 'y\udc00'),
      fc.integer({ min: 0, max: 400 }).map((i) => `f-${i}.parquet`),
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.constantFrom('set', 'set', 'delete'), folder, name, fc.integer({ min: 0, max: 9 })),
          {
            maxLength: 1500,
          },
        ),
        (ops) => {
          const p = new PathIndex();
          const m = new Map<string, number>();
          for (const [op, f, n, v] of ops) {
            const k = f + n;
            if (op === 'set') {
              p.set(k, v);
              m.set(k, v);
            } else expect(p.delete(k)).toBe(m.delete(k));
            expect(p.get(k)).toBe(m.get(k));
          }
          expect(p.size).toBe(m.size);
          for (const k of m.keys()) expect(p.has(k), k).toBe(true);
          const seen = new Map<string, number>();
          p.forEach((v, k) => {
            seen.set(k, v);
          });
          expect(seen).toEqual(m);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('finds a path added as encoded bytes by its decoded string, and the other way round', () => {
    const pairs: [string, string][] = [
      ['date=2024-01-01/part-0.parquet', 'date=2024-01-01/part-0.parquet'],
      ['ts=2024-01-01%2010%253A00%253A00/f.parquet', 'ts=2024-01-01 10%3A00%3A00/f.parquet'],
      ['a%2Fb/c', 'a/b/c'],
      ['a%2fb%2Fc', 'a/b/c'],
      ['root-file.parquet', 'root-file.parquet'],
      ['x=%41/%42', 'x=A/B'],
    ];
    for (const [raw, rel] of pairs) {
      const a = new PathIndex();
      const bytes = enc.encode(raw);
      expect(a.addEncoded(bytes, 0, bytes.length, 3), raw).toBe(true);
      expect(a.get(rel), raw).toBe(3);
      expect(a.size).toBe(1);
      // The same path again, encoded or as a string: one entry, value replaced.
      a.addEncoded(bytes, 0, bytes.length, 4);
      a.set(rel, 5);
      expect([a.size, a.get(rel)]).toEqual([1, 5]);
      const b = new PathIndex();
      b.set(rel, 6);
      b.addEncoded(bytes, 0, bytes.length, 7);
      expect([b.size, b.get(rel)]).toEqual([1, 7]);
    }
    // A long file name takes the string route (the caller then uses set()).
    const long = enc.encode(`d/${'n'.repeat(300)}`);
    expect(new PathIndex().addEncoded(long, 0, long.length, 1)).toBe(false);
  });

  it('stores each folder once: 10,000 files of one partition cost their names plus under 28 bytes each', () => {
    const folder = 'date=2024-01-01/region=region-0/';
    const name = (i: number) => `part-${String(i).padStart(5, '0')}-c000.snappy.parquet`;
    const p = new PathIndex();
    p.reserve(10_000);
    for (let i = 0; i < 10_000; i++) {
      const b = enc.encode(folder + name(i));
      p.addEncoded(b, 0, b.length, i);
    }
    p.trim();
    expect(p.folderCount).toBe(1);
    expect(p.get(folder + name(1234))).toBe(1234);
    expect(p.get(`date=2024-01-02/region=region-0/${name(1234)}`)).toBeUndefined();
    const perFile = p.byteSize / 10_000 - name(0).length;
    expect(perFile).toBeLessThan(28);
  });

  it('keeps working past 65,536 folders (wider folder ids)', () => {
    const p = new PathIndex();
    for (let i = 0; i < 70_000; i++) p.set(`k=${i}/f`, i % 1000);
    expect(p.folderCount).toBe(70_000);
    expect(p.get('k=69999/f')).toBe(999);
    expect(p.get('k=3/f')).toBe(3);
    expect(p.size).toBe(70_000);
  });

  it('clones independently (shared name chunks are never written through)', () => {
    const a = new PathIndex();
    for (let i = 0; i < 50_000; i++) a.set(`d=${i % 7}/file-${i}.parquet`, i % 100);
    a.trim();
    const b = a.clone();
    b.delete('d=0/file-0.parquet');
    b.set('d=1/file-1.parquet', 42);
    for (let i = 0; i < 20_000; i++) b.set(`d=new/file-${i}.parquet`, 1);
    const c = a.clone();
    c.set('d=new/other.parquet', 2);
    expect(a.get('d=0/file-0.parquet')).toBe(0);
    expect(a.get('d=1/file-1.parquet')).toBe(1);
    expect(a.get('d=new/file-5.parquet')).toBeUndefined();
    expect(a.size).toBe(50_000);
    expect(b.get('d=new/file-19999.parquet')).toBe(1);
    expect(b.get('d=new/other.parquet')).toBeUndefined();
    expect(c.get('d=new/file-5.parquet')).toBeUndefined();
    expect([b.size, c.size]).toEqual([69_999, 50_001]);
  });

  it('reclaims removed entries and folders when copied after churn', () => {
    const p = new PathIndex();
    for (let i = 0; i < 2_000; i++) p.set(`date=${i}/part-${i}.parquet`, i);
    const fresh = p.byteSize;
    // Churn: every file replaced by one in a new folder, through several generations of copies.
    let current = p;
    for (let gen = 1; gen <= 5; gen++) {
      const next = current.clone();
      for (let i = 0; i < 2_000; i++) {
        next.delete(`date=${(gen - 1) * 2_000 + i}/part-${i}.parquet`);
        next.set(`date=${gen * 2_000 + i}/part-${i}.parquet`, gen);
      }
      current = next;
    }
    const compact = current.clone();
    expect(compact.size).toBe(2_000);
    expect(compact.folderCount).toBe(2_000);
    expect(compact.byteSize).toBeLessThan(fresh * 1.5);
    for (let i = 0; i < 2_000; i++) {
      expect(compact.get(`date=${10_000 + i}/part-${i}.parquet`)).toBe(5);
      expect(compact.has(`date=${8_000 + i}/part-${i}.parquet`)).toBe(false);
    }
    const seen: string[] = [];
    compact.forEach((_v, k) => {
      seen.push(k);
    });
    expect(seen).toHaveLength(2_000);
    // The copy is independent of the original, which still answers as before.
    compact.set('new/x.parquet', 1);
    expect(current.has('new/x.parquet')).toBe(false);
    expect(current.get(`date=${10_000}/part-0.parquet`)).toBe(5);
  });

  it('decodes add.path bytes exactly like the string route, or declines', () => {
    const root = new TableRoot('s3://b/t');
    const samples = [
      'x=A%252FA/part-0.parquet',
      'c2=+%20%253D%25250/f',
      'a%zz/b',
      'a/%2e%2e/b',
      '../x',
      'a//b',
      's3://b/t/abs',
      'ts=2024-01-01%2010%253A00%253A00/f',
      'p:1/f',
      'dir/p:1',
      'x=%F0%9F%98%88/f',
      '%00/f',
      'a%5cb',
    ];
    for (const raw of samples) {
      const p = new PathIndex();
      const bytes = enc.encode(raw);
      const taken = p.addEncoded(bytes, 0, bytes.length, 7);
      const r = root.resolve(raw);
      if (taken) {
        expect(r.relPath, raw).toBe(decodePath(raw));
        expect(p.get(r.relPath!), raw).toBe(7);
      }
    }
    expect(new PathIndex().addEncoded(enc.encode('x=A%252FA/f'), 0, 11, 1)).toBe(true);
  });

  it('forks through LayeredMap without touching the base', () => {
    const p = new PathIndex();
    for (let i = 0; i < 10_000; i++) p.set(`f${i}`, i);
    const a = LayeredMap.of(p);
    const b = a.fork();
    b.delete('f1');
    b.set('new', 1);
    expect(a.get('f1')).toBe(1);
    expect(a.get('new')).toBeUndefined();
    expect(b.get('f1')).toBeUndefined();
    expect(b.size).toBe(10_000);
    for (let i = 0; i < 5000; i++) b.set(`g${i}`, i); // big top: the next fork folds into a new base
    const c = b.fork();
    expect(c.layers.top).toBe(0);
    expect(c.get('g4999')).toBe(4999);
    expect(c.get('f1')).toBeUndefined();
    expect(a.size).toBe(10_000);
  });

  it('copies a slice at a time to the same contents, with room to grow, the original untouched', async () => {
    const entries = (p: PathIndex) => {
      const out = new Map<string, number>();
      for (const [k, v] of p) out.set(k, v);
      return out;
    };
    const a = new PathIndex();
    for (let i = 0; i < 30_000; i++) a.set(`d=${i % 300}/file-${i}.parquet`, i);
    a.set(`long/${'n'.repeat(300)}`, 7); // the side map
    a.trim();
    // Plain copy; then one after churn (compacted). Each grows by more than it had room for.
    const churned = a.clone();
    for (let i = 0; i < 20_000; i++) churned.delete(`d=${i % 300}/file-${i}.parquet`);
    for (const [original, room] of [
      [a, 40_000],
      [churned, 5_000],
    ] as const) {
      const before = entries(original);
      const copy = await original.cloneInSlices(room);
      expect(entries(copy)).toEqual(before);
      for (let i = 0; i < room; i++) copy.set(`new=${i % 50}/g-${i}.parquet`, i);
      copy.delete('d=299/file-29999.parquet');
      expect(copy.get(`new=1/g-${room - 49}.parquet`)).toBe(room - 49);
      expect(copy.size).toBe(before.size + room - 1);
      expect(entries(original)).toEqual(before);
      expect(original.get('new=0/g-0.parquet')).toBeUndefined();
    }
  });

  it('forks a slice at a time to what fork() gives: the changes copied, or folded', async () => {
    const p = new PathIndex();
    for (let i = 0; i < 20_000; i++) p.set(`f${i}`, i);
    const base = LayeredMap.of(p).fork();
    for (let i = 0; i < 1_000; i++) base.delete(`f${i}`);
    const small = [...(await base.forkInSlices())];
    expect(small).toEqual([...base.fork()]);
    for (let i = 0; i < 5_000; i++) base.set(`g${i}`, i); // past an eighth: folded
    const folded = await base.forkInSlices();
    expect(folded.layers.top).toBe(0);
    expect(new Map(folded)).toEqual(new Map(base.fork()));
    folded.set('h', 1);
    expect(base.get('h')).toBeUndefined();
    expect(base.size).toBe(24_000);
  });
});
