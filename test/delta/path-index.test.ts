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
});
