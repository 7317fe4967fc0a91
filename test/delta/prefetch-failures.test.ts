/**
 * Reads started ahead of their use (the next commits of a replay, the next row group of a
 * checkpoint) can fail while an earlier read is still awaited. Such a failure must reach the
 * load as an error, never as an unhandled rejection (which ends the process: in Lambda, every
 * in-flight request and every cache).
 */
import { parquetMetadata } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { type AddFile, writeCheckpoint } from '../../lambda/local/delta-writer';
import { StorageError } from '../../lambda/storage/storage-backend';
import { add, MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';
import { commitKey } from '../helpers/log-text';
import { unhandledRejectionsPerTest } from '../helpers/unhandled-rejections';

const tableUri = 's3://bucket/t';
const nextMacrotask = () => new Promise<void>((r) => setImmediate(r));

const unhandled = unhandledRejectionsPerTest();

/** Memory storage whose reads can be held back or failed per path. */
class FaultyStorage extends MemoryDeltaStorage {
  fail = new Map<string, (range?: { start: number; end: number }) => Error | undefined>();
  hold = new Map<string, Promise<unknown>>();

  override async read(path: string, range?: { start: number; end: number }): Promise<Uint8Array> {
    const held = this.hold.get(path);
    if (held) await held;
    const err = this.fail.get(path)?.(range);
    if (err) throw err;
    return super.read(path, range);
  }
}

describe('a prefetched read that fails', () => {
  function tableWithCommits(n: number): FaultyStorage {
    const s = new FaultyStorage();
    s.commit(0, [protocolV1, metaData(['p']), add('p=0/a0.parquet', { p: '0' })]);
    for (let v = 1; v < n; v++) s.commit(v, [add(`p=${v}/a${v}.parquet`, { p: String(v) })]);
    return s;
  }

  it('fails the load with the storage error, not the process, when a later commit answers 503', async () => {
    const s = tableWithCommits(5);
    let failedOnce!: () => void;
    const failed = new Promise<void>((r) => {
      failedOnce = r;
    });
    // Commit 0 is slow; commit 2 (prefetched behind it) fails first.
    s.hold.set(
      commitKey(0),
      failed.then(() => nextMacrotask()),
    );
    s.fail.set(commitKey(2), () => {
      failedOnce();
      return new StorageError('Unavailable', 'backend answered 503');
    });

    await expect(loadSnapshot(s, { tableUri })).rejects.toMatchObject({ kind: 'Unavailable' });
    await nextMacrotask();
    expect(unhandled).toEqual([]);
  });

  it('fails the load, not the process, when an earlier commit is malformed and a prefetch fails later', async () => {
    const s = tableWithCommits(5);
    s.put(commitKey(1), '{not json\n');
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    // Commit 3 fails only after the replay has given up on commit 1: nobody awaits it any more.
    s.hold.set(commitKey(3), released);
    s.fail.set(commitKey(3), () => new StorageError('NotFound', 'removed by log cleanup'));

    await expect(loadSnapshot(s, { tableUri })).rejects.toMatchObject({ kind: 'Malformed' });
    release();
    await nextMacrotask();
    await nextMacrotask();
    expect(unhandled).toEqual([]);
  });

  it('fails the load, not the process, when the next checkpoint row group fails while one is decoded', async () => {
    const s = new FaultyStorage();
    const adds: AddFile[] = Array.from({ length: 40_000 }, (_, i) => ({
      path: `p=${i % 4}/f${i}.parquet`,
      partitionValues: { p: String(i % 4) },
      size: 1,
      modificationTime: 0,
      dataChange: true,
    }));
    const meta = metaData(['p']).metaData;
    const info = await writeCheckpoint(
      { put: async (rel, bytes) => void s.put(rel, bytes) },
      0,
      protocolV1.protocol,
      meta,
      adds,
      // Row groups big enough that decoding one yields to the event loop (every 16,384 rows).
      { rowGroupSize: 20_000 },
    );
    const bytes = s.files.get(info.path)!;
    const footer = parquetMetadata(bytes);
    expect(footer.row_groups.length).toBeGreaterThanOrEqual(2);
    const pathChunk = footer.row_groups[1]!.columns.find(
      (c) => c.meta_data?.path_in_schema.join('.') === 'add.path',
    )!.meta_data!;
    const at = Number(pathChunk.dictionary_page_offset ?? pathChunk.data_page_offset);
    // The add.path chunk of the second row group (read ahead while the first is decoded) fails.
    s.fail.set(info.path, (range) =>
      range && range.start <= at && at < range.end ? new StorageError('Throttled', 'SlowDown') : undefined,
    );

    await expect(loadSnapshot(s, { tableUri })).rejects.toMatchObject({ kind: 'Throttled' });
    await nextMacrotask();
    expect(unhandled).toEqual([]);
  });
});
