/**
 * Interleavings of the snapshot cache: storage calls held and released in a chosen
 * order, so that loads, refreshes before a denial and evictions overlap deterministically.
 */
import { describe, expect, it } from 'vitest';
import type { DeltaStorage, ListedFile } from '../../lambda/delta/delta-storage';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { SnapshotCache } from '../../lambda/delta/snapshot-cache';
import { add, MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';

interface Held {
  op: 'list' | 'read' | 'size';
  path: string;
  release(): void;
}

/** Storage whose calls matching `hold` wait in `held` until released. */
class GatedStorage implements DeltaStorage {
  readonly held: Held[] = [];
  hold: (op: Held['op'], path: string) => boolean = () => false;
  constructor(readonly inner: MemoryDeltaStorage) {}
  private gate<T>(op: Held['op'], path: string, f: () => Promise<T>): Promise<T> {
    if (!this.hold(op, path)) return f();
    return new Promise<void>((release) => this.held.push({ op, path, release })).then(f);
  }
  list(dir: string, startAfter?: string): Promise<ListedFile[]> {
    return this.gate('list', startAfter ?? dir, () => this.inner.list(dir, startAfter));
  }
  read(path: string, range?: { start: number; end: number }): Promise<Uint8Array> {
    return this.gate('read', path, () => this.inner.read(path, range));
  }
  size(path: string): Promise<number> {
    return this.gate('size', path, () => this.inner.size(path));
  }
  /** Releases every held call (and those they lead to) until none is held. */
  async releaseAll(): Promise<void> {
    for (let i = 0; i < 1000; i++) {
      await settle();
      const h = this.held.shift();
      if (!h) return;
      h.release();
    }
  }
}

const settle = () => new Promise<void>((r) => setImmediate(r));

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await settle();
  if (!cond()) throw new Error('condition never met');
}

function table(): MemoryDeltaStorage {
  return new MemoryDeltaStorage()
    .commit(0, [protocolV1, metaData(['p']), add('p=1/a.parquet', { p: '1' })])
    .commit(1, [add('p=1/b.parquet', { p: '1' })]);
}

describe('snapshot cache interleavings', () => {
  it('does not answer a request with an older version than a request that finished before it began', async () => {
    const uriA = 's3://bucket/a';
    const uriB = 's3://bucket/b';
    const a = new GatedStorage(table());
    const b = new GatedStorage(table());
    const one = (await loadSnapshot(b.inner, { tableUri: uriB })).estimatedBytes;
    let t = 1_000_000;
    // Room for one table, not two.
    const cache = new SnapshotCache({
      ttlMs: 5_000,
      maxBytes: Math.floor(one * 1.5),
      clock: { now: () => t },
    });

    // Table b is cached at version 1.
    const b1 = await cache.get(uriB, b, uriB);
    expect(b1.version).toBe(1);

    // R1 is about to refuse a file b1 does not know: its probe of the log is held.
    b.hold = (op) => op === 'list';
    const r1 = cache.refreshBeforeDenial(uriB, b, uriB, b1);
    await until(() => b.held.length === 1);

    // Table a, read more often, is loaded and evicts b (b's entry is no longer in the cache).
    const reads = Array.from({ length: 4 }, () => cache.get(uriA, a, uriA));
    await Promise.all(reads);
    expect(cache.stats().evictions).toBe(1);
    t += 1;

    // R2 reads table b: a new load, which lists the log (version 1) and then waits on its reads.
    b.hold = (op, path) => op === 'read' && path.endsWith('.json');
    const probe = b.held.shift()!;
    const r2 = cache.get(uriB, b, uriB);
    await until(() => b.held.length > 0);

    // A writer commits version 2; R1's probe now sees it and R1 refreshes to version 2.
    b.inner.commit(2, [add('p=1/new.parquet', { p: '1' })]);
    b.hold = () => false;
    probe.release();
    const s1 = await r1;
    expect(s1.version).toBe(2);

    // R3 begins after R1 was answered with version 2.
    b.hold = (op) => op === 'read';
    const r3 = cache.get(uriB, b, uriB);
    b.hold = () => false;
    await b.releaseAll();
    const [s2, s3] = await Promise.all([r2, r3]);
    expect(s2.version).toBeGreaterThanOrEqual(1);
    // R3 started after a request was answered with version 2: it must not get version 1.
    expect(s3.version).toBeGreaterThanOrEqual(2);
  });

  it('never answers a caller with an older version than one it was already answered (random interleavings)', async () => {
    const rng = (seed: number) => {
      let x = seed >>> 0;
      return () => {
        x = (x * 1664525 + 1013904223) >>> 0;
        return x / 2 ** 32;
      };
    };
    for (let seed = 1; seed <= 200; seed++) {
      const rand = rng(seed);
      let t = 1_000_000;
      const maxBytes = [9_000, 11_000, 14_000, 1e9][seed % 4]!;
      const cache = new SnapshotCache({
        ttlMs: 100,
        maxBytes,
        clock: { now: () => t },
        newCommitProbeTtlMs: 10,
      });
      const tables = ['a', 'b', 'c'].map((name) => {
        const mem = new MemoryDeltaStorage().commit(0, [
          protocolV1,
          metaData(['p']),
          ...Array.from({ length: 5 }, (_, i) => add(`p=${i}/f0-${i}.parquet`, { p: String(i) })),
        ]);
        const storage = new GatedStorage(mem);
        storage.hold = () => true;
        return { name, mem, storage, version: 0, seen: 0 };
      });
      const pending = new Set<Promise<void>>();
      const failures: string[] = [];
      for (let step = 0; step < 300; step++) {
        const r = rand();
        const tb = tables[Math.floor(rand() * tables.length)]!;
        if (r < 0.1) {
          tb.version++;
          tb.mem.commit(tb.version, [add(`p=1/f${tb.version}.parquet`, { p: '1' })]);
        } else if (r < 0.2) {
          t += Math.floor(rand() * 60);
        } else if (r < 0.45) {
          const floor = tb.seen;
          const uri = `s3://bucket/${tb.name}`;
          const kind = rand();
          const p = (async () => {
            const first = await cache.get(uri, tb.storage, uri);
            const s = kind < 0.5 ? first : await cache.refreshBeforeDenial(uri, tb.storage, uri, first);
            if (s.version < floor) failures.push(`seed ${seed}: ${tb.name} v${s.version} after v${floor}`);
            tb.seen = Math.max(tb.seen, s.version);
            if (rand() < 0.3) await cache.history(uri, tb.storage, uri, s, rand() < 0.5);
          })().catch(() => {});
          pending.add(p);
          void p.finally(() => pending.delete(p));
        } else {
          const some = tables.filter((x) => x.storage.held.length > 0);
          if (some.length) {
            const x = some[Math.floor(rand() * some.length)]!;
            x.storage.held.splice(Math.floor(rand() * x.storage.held.length), 1)[0]!.release();
          }
        }
        await settle();
      }
      for (const x of tables) x.storage.hold = () => false;
      for (let i = 0; i < 10_000 && pending.size > 0; i++) {
        for (const x of tables) while (x.storage.held.length) x.storage.held.shift()!.release();
        await settle();
      }
      expect(failures).toEqual([]);
    }
  });
});
