/**
 * The filtered view of a whole (synthetic) table, read as a reader does: listed, every generated
 * file downloaded, replayed at every version. The corpus suite does this over real tables; these
 * tables are hand-written to hold what the corpus lacks.
 */
import { describe, expect, it } from 'vitest';
import { fileGrantOf } from '../../lambda/access/file-grant';
import type { PartitionMap } from '../../lambda/access/grant';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import { FilteredLogView } from '../../lambda/log-view/filtered-log-view';
import { add, MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';
import { parquetRows, replayLog } from '../helpers/virtual-log-replay';

const URI = 's3://bucket/t';

/** Every file of the view for `maps`, by name under `_delta_log/`, decoded. */
async function readView(storage: MemoryDeltaStorage, maps: PartitionMap[]) {
  const snapshot = await loadSnapshot(storage, { tableUri: URI });
  const view = new FilteredLogView({ budgetBytes: () => 1 << 24 });
  const req = { tableUri: URI, storage, snapshot, grant: fileGrantOf(snapshot.partitionColumns, maps) };
  const files = new Map<string, Uint8Array>();
  for (const key of (await view.folder(req)).keys) {
    files.set(key.slice('_delta_log/'.length), (await view.object(req, key))!.body);
  }
  const text = [...files.values()].map((b) => Buffer.from(b).toString('latin1')).join('\n');
  const at = async (v: number) => [...(await replayLog(files, v)).keys()].sort();
  return { files, text, at };
}

const removeOf = (path: string, partitionValues: Record<string, string | null>) => ({
  remove: {
    path,
    deletionTimestamp: 5,
    dataChange: true,
    extendedFileMetadata: true,
    partitionValues,
    size: 1,
  },
});

describe('the filtered view of a table', () => {
  it('shows no file whose partitionValues lack a partition column (the proxy refuses it), and still applies removes that leave null values out', async () => {
    // Partitioned by `a`, then overwritten and partitioned by `b` (overwriteSchema): the old files
    // carry only `a`, a value of a partition no caller of the new table was granted. The proxy
    // refuses such a file (SECURITY: "a file missing a partition column is refused"), so the
    // filtered log must not name it either, for a caller of the null partition nor of the whole table.
    const s = new MemoryDeltaStorage();
    s.commit(0, [protocolV1, metaData(['a']), add('a=secret/f1.parquet', { a: 'secret' })]);
    s.commit(1, [
      metaData(['b']),
      removeOf('a=secret/f1.parquet', { a: 'secret' }),
      add('b=y/f2.parquet', { b: 'y' }),
      add('b=__HIVE_DEFAULT_PARTITION__/f4.parquet', { b: null }),
    ]);
    // A writer that still wrote the old column.
    s.commit(2, [add('a=secret3/f3.parquet', { a: 'secret3' })]);
    // Spark 3.3 leaves null-valued keys out of a remove's partitionValues.
    s.commit(3, [removeOf('b=__HIVE_DEFAULT_PARTITION__/f4.parquet', {})]);
    await writeCheckpoint(
      { put: async (rel, bytes) => void s.put(rel, bytes) },
      3,
      protocolV1.protocol,
      metaData(['b']).metaData,
      [
        {
          path: 'b=y/f2.parquet',
          partitionValues: { b: 'y' },
          size: 1,
          modificationTime: 0,
          dataChange: false,
        },
        {
          path: 'a=secret3/f3.parquet',
          partitionValues: { a: 'secret3' },
          size: 1,
          modificationTime: 0,
          dataChange: false,
        },
      ],
      {
        removes: [
          { path: 'a=secret/f1.parquet', partitionValues: { a: 'secret' }, deletionTimestamp: 5 },
          { path: 'b=__HIVE_DEFAULT_PARTITION__/f4.parquet', partitionValues: {}, deletionTimestamp: 5 },
        ],
      },
    );

    const nulls = await readView(s, [{ b: null }]);
    expect(nulls.text).not.toContain('secret');
    expect(await nulls.at(0)).toEqual([]);
    expect(await nulls.at(2)).toEqual(['b=__HIVE_DEFAULT_PARTITION__/f4.parquet']);
    expect(await nulls.at(3)).toEqual([]);

    const all = await readView(s, [{}]);
    expect(all.text).not.toContain('secret');
    expect(await all.at(0)).toEqual([]);
    expect(await all.at(2)).toEqual(['b=__HIVE_DEFAULT_PARTITION__/f4.parquet', 'b=y/f2.parquet']);
    expect(await all.at(3)).toEqual(['b=y/f2.parquet']);
  });
});

describe('a remove classified by its add', () => {
  it('finds an add made before the last checkpoint when a checkpoint stands at the remove itself', async () => {
    // Commit 0 is cleaned up: the add of f is only in checkpoint 1. Commit 2 removes f with its
    // null value left out (Spark 3.3), and checkpoint 2 already lacks f.
    const s = new MemoryDeltaStorage();
    const cp = (
      version: number,
      files: { path: string; partitionValues: Record<string, string | null> }[],
      removes: { path: string; partitionValues: Record<string, string | null> }[] = [],
    ) =>
      writeCheckpoint(
        { put: async (rel, bytes) => void s.put(rel, bytes) },
        version,
        protocolV1.protocol,
        metaData(['b']).metaData,
        files.map((f) => ({ ...f, size: 1, modificationTime: 0, dataChange: false })),
        { removes: removes.map((r) => ({ ...r, deletionTimestamp: 5 })) },
      );
    const f = 'b=__HIVE_DEFAULT_PARTITION__/f.parquet';
    await cp(1, [{ path: f, partitionValues: { b: null } }]);
    s.commit(1, [add('b=y/g.parquet', { b: 'y' })]);
    s.commit(2, [removeOf(f, {})]);
    await cp(2, [{ path: 'b=y/g.parquet', partitionValues: { b: 'y' } }], [{ path: f, partitionValues: {} }]);

    const nulls = await readView(s, [{ b: null }]);
    const commit2 = new TextDecoder().decode(nulls.files.get('00000000000000000002.json'));
    expect(commit2).toContain(f);
    expect(await nulls.at(1)).toEqual([f]);
    // Checkpoint 2's tombstone of f (its values incomplete) is not placed: generated checkpoints
    // carry no tombstones, whatever older log files are left.
    const tombstones = await parquetRows(nulls.files.get('00000000000000000002.checkpoint.parquet')!, [
      'remove',
    ]);
    expect(tombstones.filter((r) => r.remove)).toEqual([]);
  });
});

/** f (null partition) added at 0, a checkpoint at 40, f removed at 42 with its null value left out. */
async function longLog() {
  const s = new MemoryDeltaStorage();
  const f = 'b=__HIVE_DEFAULT_PARTITION__/f.parquet';
  s.commit(0, [protocolV1, metaData(['b']), add(f, { b: null })]);
  const files: { path: string; partitionValues: Record<string, string | null> }[] = [
    { path: f, partitionValues: { b: null } },
  ];
  for (let v = 1; v <= 40; v++) {
    s.commit(v, [add(`b=y/g${v}.parquet`, { b: 'y' })]);
    files.push({ path: `b=y/g${v}.parquet`, partitionValues: { b: 'y' } });
  }
  await writeCheckpoint(
    { put: async (rel, bytes) => void s.put(rel, bytes) },
    40,
    protocolV1.protocol,
    metaData(['b']).metaData,
    files.map((x) => ({ ...x, size: 1, modificationTime: 0, dataChange: false })),
  );
  s.commit(41, [add('b=y/h.parquet', { b: 'y' })]);
  s.commit(42, [removeOf(f, {})]);
  const snapshot = await loadSnapshot(s, { tableUri: URI });
  const view = new FilteredLogView({ budgetBytes: () => 1 << 24 });
  const req = {
    tableUri: URI,
    storage: s,
    snapshot,
    grant: fileGrantOf(snapshot.partitionColumns, [{ b: null }]),
  };
  await view.folder(req);
  return {
    s,
    f,
    commit42: async () =>
      new TextDecoder().decode((await view.object(req, '_delta_log/00000000000000000042.json'))!.body),
  };
}

describe('the lookup of a remove without complete partitionValues', () => {
  it('reads only the commits since the checkpoint before it, and that checkpoint', async () => {
    const { s, f, commit42 } = await longLog();
    s.reads.length = 0;
    expect(await commit42()).toContain(f);
    expect([...new Set(s.reads)].sort()).toEqual([
      '_delta_log/00000000000000000040.checkpoint.parquet',
      '_delta_log/00000000000000000041.json',
      '_delta_log/00000000000000000042.json',
    ]);
  });

  it('goes on to the commits before a checkpoint that turns out broken', async () => {
    const { s, f, commit42 } = await longLog();
    s.put('_delta_log/00000000000000000040.checkpoint.parquet', 'not parquet, a failed write');
    expect(await commit42()).toContain(f);
  });
});
