/**
 * Commit reads a bounded window ahead (lambda/delta/log-read-ahead.ts): applied strictly in order
 * whatever order the reads finish in, never more than the bound in flight or held (by count and
 * by listed bytes), and a failure anywhere ahead fails the replay, not the process.
 */
import { describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { DEFAULT_READ_AHEAD, readInOrder } from '../../lambda/delta/log-read-ahead';
import { StorageError } from '../../lambda/storage/storage-backend';
import { add, MemoryDeltaStorage, metaData, protocolV1, remove } from '../helpers/delta-memory-storage';
import { commitName } from '../helpers/log-text';
import { unhandledRejectionsPerTest } from '../helpers/unhandled-rejections';

const unhandled = unhandledRejectionsPerTest();

/** Reads that finish when the test says, tracking how many are started and not yet applied. */
function heldReads(n: number, size = (_i: number) => 100) {
  const files = Array.from({ length: n }, (_, i) => ({ i, size: size(i) }));
  const release: (() => void)[] = [];
  let started = 0;
  let applied = 0;
  let worstAhead = 0;
  let worstBytes = 0;
  const read = (f: { i: number }) => {
    started++;
    worstAhead = Math.max(worstAhead, started - applied);
    const ahead = files.slice(applied, started).reduce((b, x) => b + x.size, 0);
    worstBytes = Math.max(worstBytes, ahead);
    return new Promise<number>((r) => {
      release[f.i] = () => r(f.i);
    });
  };
  return {
    files,
    read,
    release,
    onApplied: () => applied++,
    stats: () => ({ started, applied, worstAhead, worstBytes }),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('reading commits a bounded window ahead', () => {
  it('applies in order when the reads finish in reverse order, with at most the bound (64) in flight', async () => {
    const h = heldReads(100);
    const order: number[] = [];
    const done = readInOrder(h.files, h.read, (v) => {
      order.push(v);
      h.onApplied();
      return true;
    });
    // Once the window is full, finish every started read, newest first, until all are applied.
    for (let round = 0; round < 400 && order.length < 100; round++) {
      await tick();
      const { started, applied } = h.stats();
      if (started < 100 && started - applied < DEFAULT_READ_AHEAD.files) continue;
      for (let i = started - 1; i >= 0; i--) h.release[i]?.();
    }
    expect(await done).toBe(true);
    expect(order).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(h.stats().worstAhead).toBe(DEFAULT_READ_AHEAD.files);
  });

  // Starting a read is a backend request's worth of CPU: 64 at once held the loop for tens of ms.
  it('fills the window a few reads per turn of the event loop, not all at once', async () => {
    const h = heldReads(100);
    const done = readInOrder(h.files, h.read, () => {
      h.onApplied();
      return true;
    });
    const startedByTurn = [h.stats().started];
    for (let turn = 0; turn < 18; turn++) {
      await tick();
      startedByTurn.push(h.stats().started);
    }
    // Four more each turn up to the bound (64), then none until a file is applied.
    expect(startedByTurn).toEqual([...Array.from({ length: 16 }, (_, t) => 4 * (t + 1)), 64, 64, 64]);
    for (let round = 0; round < 100 && h.stats().applied < 100; round++) {
      for (const r of h.release) r?.();
      await tick();
    }
    expect(await done).toBe(true);
  });

  it('holds no more than the byte bound ahead, and still reads a file larger than the bound alone', async () => {
    const MiB = 1024 * 1024;
    // Commit 3 is a 20 MiB rewrite; the rest are 3 MiB.
    const h = heldReads(10, (i) => (i === 3 ? 20 * MiB : 3 * MiB));
    const done = readInOrder(h.files, h.read, () => {
      h.onApplied();
      return true;
    });
    for (let round = 0; round < 100 && h.stats().applied < 10; round++) {
      await tick();
      for (const r of h.release) r?.();
    }
    expect(await done).toBe(true);
    expect(h.stats().worstBytes).toBe(20 * MiB); // the big one, alone
    // Around it, the 8 MiB bound allows two 3 MiB reads at a time.
    expect(h.stats().worstAhead).toBe(2);
  });

  it('stops when apply refuses, without applying anything after', async () => {
    const h = heldReads(50);
    const seen: number[] = [];
    const done = readInOrder(h.files, h.read, (v) => {
      seen.push(v);
      return v < 5;
    });
    for (let round = 0; round < 20; round++) {
      await tick();
      for (const r of h.release) r?.();
    }
    expect(await done).toBe(false);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('fails the load with the error of a read far ahead, not the process', async () => {
    const s = new MemoryDeltaStorage();
    s.commit(0, [protocolV1, metaData(['p']), add('p=0/f0.parquet', { p: '0' })]);
    for (let v = 1; v < 300; v++) s.commit(v, [add(`p=${v % 7}/f${v}.parquet`, { p: String(v % 7) })]);
    const read = s.read.bind(s);
    s.read = async (path, range) => {
      if (path.endsWith(commitName(40))) throw new StorageError('Throttled', 'SlowDown');
      return read(path, range);
    };
    await expect(loadSnapshot(s, { tableUri: 's3://b/t' })).rejects.toMatchObject({ kind: 'Throttled' });
    await tick();
    expect(unhandled).toEqual([]);
  });

  it('replays a 3,000-commit log to the same files as a one-at-a-time read', async () => {
    const s = new MemoryDeltaStorage();
    s.commit(0, [protocolV1, metaData(['p'])]);
    for (let v = 1; v <= 3000; v++) {
      const actions: object[] = [add(`p=${v % 10}/f${v}.parquet`, { p: String(v % 10) })];
      if (v % 3 === 0) actions.push(remove(`p=${(v - 1) % 10}/f${v - 1}.parquet`));
      s.commit(v, actions);
    }
    const tableUri = 's3://b/t';
    const parallel = await loadSnapshot(s, { tableUri });
    const serial = await loadSnapshot(s, { tableUri, readAhead: { files: 1, bytes: 0 } });
    expect(parallel.version).toBe(3000);
    expect(parallel.activeFileCount).toBe(2000);
    const described = (snap: typeof serial) =>
      [...snap.files()].map(([path, t]) => `${path} ${snap.tupleValues(t).join('/')}`).sort();
    expect(described(parallel)).toEqual(described(serial));
  });
});
