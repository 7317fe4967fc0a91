/**
 * A caller's filtered checkpoint of adds with wide statistics (200 columns, ~20 KB an add): row
 * groups end at 4 M characters as well as at 8,192 rows, so one column chunk's encoding and
 * compression stays short. Each warm run's longest block is held against the CPU the run cost.
 */
import { expect, it } from 'vitest';
import { CheckpointWriter } from '../../lambda/log-view/checkpoint-writer';
import { loopBlocks } from '../helpers/loop-watch';
import { measured, retryMeasured } from '../helpers/measured';
import { parquetRows } from '../helpers/virtual-log-replay';

it('writes adds of wide statistics (200 columns, ~20 KB each) without holding the event loop', {
  ...retryMeasured,
  timeout: 60_000,
}, async () => {
  const ADDS = 2_000;
  const columns = Array.from({ length: 200 }, (_, c) => `column_with_a_long_name_${c}`);
  const stats = (i: number) =>
    JSON.stringify({
      numRecords: i,
      minValues: Object.fromEntries(columns.map((c, k) => [c, k * i])),
      maxValues: Object.fromEntries(columns.map((c, k) => [c, k * i + 1000])),
      nullCount: Object.fromEntries(columns.map((c) => [c, 0])),
    });
  const rows = Array.from({ length: ADDS }, (_, i) => ({
    add: {
      path: `region=r${i % 40}/part-00000-${i}-c4f7e6e2-3d0f-4b8e-9a2c-7f1e2b3c4d5e.c000.snappy.parquet`,
      partitionValues: { region: `r${i % 40}` },
      size: 1000 + i,
      modificationTime: 1_700_000_000_000 + i,
      dataChange: true,
      stats: stats(i),
    },
  }));
  expect(rows[1]!.add.stats.length).toBeGreaterThan(15_000);
  const worst: number[] = [];
  for (let run = 0; run < 4; run++) {
    const { result, blocks, samples } = await loopBlocks(async () => {
      const w = new CheckpointWriter();
      await w.push(rows);
      return w.finish();
    });
    expect(result.adds).toBe(ADDS);
    const longest = blocks.reduce((m, b) => Math.max(m, b.cpuMs), 0);
    const cpu = samples.at(-1)!.cpu - samples[0]!.cpu;
    console.log('wide statistics: longest block of the run, ms:', longest.toFixed(1), 'of', cpu.toFixed(0));
    if (run > 0) worst.push(longest / cpu);
  }
  worst.sort((a, b) => a - b);
  // The stats read back, every one: the file holds what was pushed.
  const w = new CheckpointWriter();
  await w.push(rows);
  const { bytes } = await w.finish();
  const back = (await parquetRows(bytes, ['add'])).map((r) => (r.add as { stats?: string }).stats);
  expect(back).toEqual(rows.map((r) => r.add.stats));
  // Before: 0.39-0.53 of the run (210-280 ms, the stats of a 1,024-row group, 20 MB, compressed in
  // one call); now 0.11-0.16 (a 4 M-character chunk), both at a load average of 8.
  measured(worst[1]!, 'warm runs: median longest loop block, share of the run').toBeLessThan(0.28);
});
