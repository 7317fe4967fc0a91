/**
 * Choosing the log segment on tables written by our fixture writer: stale, missing or
 * dangling `_last_checkpoint`, failed checkpoint writes, multi-part checkpoints with a missing
 * part, time travel before and after a checkpoint.
 */
import { mkdtempSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import { DeltaTableWriter, directoryTarget } from '../../lambda/local/delta-writer';
import { fsDeltaStorage } from '../helpers/delta-fs-storage';
import { referenceReplay } from '../helpers/delta-reference-replay';
import { checkpointKey, commitKey } from '../helpers/log-text';

const tableUri = 's3://bucket/t';
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** v0 create, v1-v3 appends (checkpoint at v2), v4 removes the v1 file. */
async function table(): Promise<{ dir: string; w: DeltaTableWriter }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'delta-seg-'));
  dirs.push(dir);
  const w = new DeltaTableWriter(directoryTarget(dir), {
    schema: [
      { name: 'id', type: 'long' },
      { name: 'day', type: 'date' },
    ],
    partitionColumns: ['day'],
  });
  await w.create();
  const first = await w.writeDataFile({ day: '2024-01-01' }, [{ id: 1 }]);
  await w.commit({ add: [first] });
  await w.commit({ add: [await w.writeDataFile({ day: '2024-01-02' }, [{ id: 2 }])] });
  await w.checkpoint();
  await w.commit({ add: [await w.writeDataFile({ day: '2024-01-03' }, [{ id: 3 }])] });
  await w.commit({ remove: [first.path] });
  return { dir, w };
}

const cp = (dir: string, v: number) => path.join(dir, checkpointKey(v));
const hint = (dir: string) => path.join(dir, '_delta_log', '_last_checkpoint');

describe('log segment', () => {
  it('starts from the newest checkpoint and reads only the commits after it', async () => {
    const { dir } = await table();
    const storage = fsDeltaStorage(dir);
    const snap = await loadSnapshot(storage, { tableUri });
    expect(snap.version).toBe(4);
    expect(snap.loadInfo.checkpointVersion).toBe(2);
    expect(snap.activeFileCount).toBe(2);
    const commitsRead = storage.reads
      .filter((r) => r.path.endsWith('.json'))
      .map((r) => path.basename(r.path))
      .sort(); // commits are fetched concurrently, so they complete in any order
    expect(commitsRead).toEqual(['00000000000000000003.json', '00000000000000000004.json']);
  });

  it('time travels to every version, before and after the checkpoint', async () => {
    const { dir } = await table();
    for (let v = 0; v <= 4; v++) {
      const snap = await loadSnapshot(fsDeltaStorage(dir), { tableUri, version: v });
      const ref = await referenceReplay(dir, tableUri, v);
      expect(snap.version).toBe(v);
      expect(snap.activeFileCount, `v${v}`).toBe(ref.files.size);
      expect(snap.loadInfo.checkpointVersion).toBe(v >= 2 ? 2 : undefined);
    }
  });

  it('lists past a stale _last_checkpoint (build_snapshot_with_out_of_date_last_checkpoint)', async () => {
    const { dir, w } = await table();
    await w.checkpoint(); // checkpoint at v4 ...
    writeFileSync(hint(dir), JSON.stringify({ version: 2, size: 4 })); // ... but the hint still says v2
    const snap = await loadSnapshot(fsDeltaStorage(dir), { tableUri });
    expect(snap.loadInfo.checkpointVersion).toBe(4);
    expect(snap.activeFileCount).toBe(2);
  });

  it('falls back to a full listing when _last_checkpoint names a checkpoint that does not exist', async () => {
    const { dir } = await table();
    writeFileSync(hint(dir), JSON.stringify({ version: 3, size: 4 }));
    const snap = await loadSnapshot(fsDeltaStorage(dir), { tableUri });
    expect(snap.loadInfo.checkpointVersion).toBe(2);
    expect(snap.activeFileCount).toBe(2);
    writeFileSync(hint(dir), 'garbage{');
    expect((await loadSnapshot(fsDeltaStorage(dir), { tableUri })).activeFileCount).toBe(2);
  });

  it('replays all JSON commits when the checkpoint and its hint are gone', async () => {
    const { dir } = await table();
    unlinkSync(cp(dir, 2));
    const snap = await loadSnapshot(fsDeltaStorage(dir), { tableUri });
    expect(snap.loadInfo.checkpointVersion).toBeUndefined();
    expect(snap.activeFileCount).toBe(2);
  });

  it('survives a failed checkpoint write (truncated file) by using the commits before it', async () => {
    const { dir } = await table();
    truncateSync(cp(dir, 2), 100);
    const snap = await loadSnapshot(fsDeltaStorage(dir), { tableUri });
    expect(snap.loadInfo.checkpointVersion).toBeUndefined();
    expect(snap.activeFileCount).toBe(2);
  });

  it('ignores a multi-part checkpoint with a missing part', async () => {
    const { dir, w } = await table();
    await w.checkpoint(); // a good classic checkpoint at 4 we rename into "part 1 of 2"
    const { renameSync } = await import('node:fs');
    renameSync(
      cp(dir, 4),
      path.join(dir, '_delta_log', '00000000000000000004.checkpoint.0000000001.0000000002.parquet'),
    );
    const snap = await loadSnapshot(fsDeltaStorage(dir), { tableUri });
    expect(snap.loadInfo.checkpointVersion).toBe(2);
    expect(snap.activeFileCount).toBe(2);
  });

  it('says clearly when the checkpoint is broken and the commits before it were cleaned up', async () => {
    const { dir } = await table();
    truncateSync(cp(dir, 2), 100);
    for (const v of [0, 1]) unlinkSync(path.join(dir, commitKey(v)));
    await expect(loadSnapshot(fsDeltaStorage(dir), { tableUri })).rejects.toThrow(
      /checkpoint _delta_log\/00000000000000000002\.checkpoint\.parquet is unreadable.*00000000000000000000\.json is missing/,
    );
  });
});
