/**
 * A table of many partition columns, or of long partition values, has long paths: here ten
 * columns of ~95-character values make ~1,000-character paths (S3 keys reach 1,024 bytes). Work
 * done per file grows with its path's length (it is decoded, hashed and compared): the snapshot
 * load (which walks its checkpoint) and the folder index (built on a filtered listing's first use
 * of a snapshot) must pause by that work, not by a count of files of any length (the median of
 * three warm runs' longest event-loop blocks, 20,000 files).
 */
import { beforeAll, expect, it } from 'vitest';
import { FolderIndex } from '../../lambda/delta/folder-index';
import { loadSnapshot } from '../../lambda/delta/load-snapshot';
import type { Snapshot } from '../../lambda/delta/snapshot';
import { writeCheckpoint } from '../../lambda/local/delta-writer';
import { MemoryDeltaStorage, metaData, protocolV1 } from '../helpers/delta-memory-storage';
import { gc } from '../helpers/heap';
import { loopBlocks } from '../helpers/loop-watch';
import { measured, retryMeasured } from '../helpers/measured';

const FILES = 20_000;
const COLUMNS = 10;
const LEAVES = 100;
const column = (k: number) => `p${k}`;
const values = (i: number): Record<string, string> =>
  Object.fromEntries(
    Array.from({ length: COLUMNS }, (_, k) => [
      column(k),
      k === COLUMNS - 1 ? `v${i % LEAVES}`.padEnd(90, '-') : `x${k}`.padEnd(90, '-'),
    ]),
  );
const folderOf = (i: number) => {
  const v = values(i);
  return Array.from({ length: COLUMNS }, (_, k) => `${column(k)}=${v[column(k)]}/`).join('');
};
const pathOf = (i: number) => `${folderOf(i)}part-${i}.parquet`;

let snapshot: Snapshot;
let store: MemoryDeltaStorage;

beforeAll(async () => {
  const s = new MemoryDeltaStorage();
  store = s;
  const meta = metaData(Array.from({ length: COLUMNS }, (_, k) => column(k)));
  await writeCheckpoint(
    { put: async (rel, bytes) => void s.put(rel, bytes) },
    0,
    protocolV1.protocol,
    meta.metaData,
    Array.from({ length: FILES }, (_, i) => ({
      path: pathOf(i),
      partitionValues: values(i),
      size: 1,
      modificationTime: 0,
      dataChange: false,
    })),
  );
  s.commit(0, [protocolV1, meta]);
  snapshot = await loadSnapshot(s, { tableUri: 's3://lake/t' });
  expect(snapshot.fileCount).toBe(FILES);
  expect(pathOf(0).length).toBeGreaterThan(900);
}, 120_000);

it('the folder index of files with long paths pauses by the work of their lookups', {
  ...retryMeasured,
  timeout: 120_000,
}, async () => {
  const worst: number[] = [];
  let index: FolderIndex | undefined;
  for (let i = 0; i < 4; i++) {
    gc();
    const { result, blocks } = await loopBlocks(() => FolderIndex.build(snapshot));
    index = result;
    if (i > 0) worst.push(blocks.reduce((m, b) => Math.max(m, b.cpuMs), 0));
  }
  worst.sort((a, b) => a - b);
  console.log('folder index: longest blocks, ms:', worst.map((w) => w.toFixed(1)).join(' '));
  // Every folder with its ancestors: the 9 shared levels, then the 100 leaves below them.
  expect(index!.count).toBe(COLUMNS - 1 + LEAVES);
  const leaf = index!.idOf(folderOf(7));
  expect(leaf).toBeGreaterThanOrEqual(0);
  expect(index!.holdsReadable(leaf, () => true)).toBe(true);
  expect(index!.idOf(folderOf(7).replace(/[^/]*\/$/, ''))).toBe(index!.parents[leaf]);
  // Before: 88-133 ms (load average 13), 4,096 files between two pauses whatever their paths' length.
  measured(worst[1]!, 'median longest loop block, ms').toBeLessThan(40);
});

it('the snapshot load of files with long paths pauses by the work of their paths', {
  ...retryMeasured,
  timeout: 120_000,
}, async () => {
  const worst: number[] = [];
  let loaded: Snapshot | undefined;
  for (let i = 0; i < 4; i++) {
    gc();
    const { result, blocks } = await loopBlocks(() => loadSnapshot(store, { tableUri: 's3://lake/t' }));
    loaded = result;
    if (i > 0) worst.push(blocks.reduce((m, b) => Math.max(m, b.cpuMs), 0));
  }
  worst.sort((a, b) => a - b);
  console.log('snapshot load: longest blocks, ms:', worst.map((w) => w.toFixed(1)).join(' '));
  // Every file, each in its partition.
  expect(loaded!.fileCount).toBe(FILES);
  expect(new Set([...loaded!.files()].map(([path]) => path))).toEqual(
    new Set(Array.from({ length: FILES }, (_, i) => pathOf(i))),
  );
  expect(loaded!.tupleOf(pathOf(7))).toBe(loaded!.tupleOf(pathOf(107)));
  expect(loaded!.tupleOf(pathOf(7))).not.toBe(loaded!.tupleOf(pathOf(8)));
  // Before: 40-116 ms (load average 4-9), 2,048 rows walked between two pauses whatever their
  // paths' length; now 13-22 ms.
  measured(worst[1]!, 'median longest loop block, ms').toBeLessThan(30);
});
