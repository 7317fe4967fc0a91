/**
 * Tables for the filtered-listing tests, written with the project's Delta writer: partitions in
 * which only a few are granted, so that pages must skip runs of forbidden files; orphans and side
 * files inside granted folders; a folder whose every file was removed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DeltaTableWriter, directoryTarget } from '../../lambda/local/delta-writer';
import { tempDir } from './temp-dir';

export const region = (i: number, width = 2): string => `r${String(i).padStart(width, '0')}`;

/**
 * `regions` partitions region=rNN/day=2024-01-01 with `filesPer` files each. Removes one file of
 * regions 7 and 31 (orphans in granted folders) and every file of region 40; adds a Hadoop .crc
 * and an unknown file beside granted data.
 */
export async function writeWideTable(regions = 50, filesPer = 2, width = 2): Promise<string> {
  const dir = tempDir('wide-table-');
  const w = new DeltaTableWriter(directoryTarget(dir), {
    schema: [
      { name: 'id', type: 'long' },
      { name: 'region', type: 'string' },
      { name: 'day', type: 'date' },
    ],
    partitionColumns: ['region', 'day'],
  });
  await w.create();
  const adds = [];
  for (let i = 0; i < regions; i++)
    for (let n = 0; n < filesPer; n++) {
      const r = region(i, width);
      adds.push(
        await w.writeDataFile({ region: r, day: '2024-01-01' }, [
          { id: i * filesPer + n, region: r, day: '2024-01-01' },
        ]),
      );
    }
  await w.commit({ add: adds });
  const removed = adds.filter(
    (a, i) => a.partitionValues.region === region(40, width) || i === 7 * filesPer || i === 31 * filesPer,
  );
  await w.commit({ remove: removed.map((a) => a.path), operation: 'DELETE' });
  await w.checkpoint();
  const put = (rel: string, text: string) => {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  put(`region=${region(7, width)}/day=2024-01-01/.part-00000.c000.snappy.parquet.crc`, 'crc');
  put(`region=${region(12, width)}/day=2024-01-01/notes.txt`, 'not a Delta file');
  put('_delta_log/.00000000000000000001.json.crc', 'crc');
  return dir;
}
