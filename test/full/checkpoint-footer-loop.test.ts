/**
 * A caller's filtered checkpoint of a million readable adds has 125 row groups, each group's
 * metadata a column chunk per leaf: a footer (thrift FileMetaData) of about 330 KB. The groups are
 * written a column chunk at a time, the event loop free between chunks, but hyparquet-writer's
 * finish() encodes the whole footer in one synchronous call: 120-200 ms of CPU on a loaded 2-core
 * machine, every other request of the process held that long at the end of the write.
 *
 * Here the adds arrive as a reader hands them on (a batch at a time, not held: the test's heap
 * stays small and its collections are not counted against the writer), in a number that fills the
 * last group exactly, so that finish() writes the footer alone; its longest event-loop block is
 * measured warm (the second write).
 */
import { expect, it } from 'vitest';
import { CheckpointWriter } from '../../lambda/log-view/checkpoint-writer';
import { gc } from '../helpers/heap';
import { loopBlocks } from '../helpers/loop-watch';
import { measured, retryMeasured } from '../helpers/measured';

// Groups of 1,024, 2,048, 4,096 rows, then 8,192 (CheckpointWriter): 125 groups.
const ADDS = 7_168 + 122 * 8_192;
const BATCH = 8_192;

const add = (i: number) => ({
  add: {
    path: `region=r${i % 40}/part-${i}.snappy.parquet`,
    partitionValues: { region: `r${i % 40}` },
    size: 1000 + i,
    modificationTime: 1_700_000_000_000 + i,
    dataChange: true,
  },
});

it(`finishes a checkpoint of ${ADDS.toLocaleString('en')} adds (125 row groups) without holding the event loop`, {
  ...retryMeasured,
  timeout: 300_000,
}, async () => {
  const worst: number[] = [];
  for (let run = 0; run < 2; run++) {
    const w = new CheckpointWriter();
    for (let i = 0; i < ADDS; i += BATCH)
      await w.push(Array.from({ length: Math.min(BATCH, ADDS - i) }, (_, k) => add(i + k)));
    gc();
    const { result, blocks } = await loopBlocks(() => w.finish());
    expect(result.adds).toBe(ADDS);
    const b = result.bytes;
    // The footer: its length stands before the closing magic.
    expect(new DataView(b.buffer, b.byteOffset + b.length - 8, 4).getUint32(0, true)).toBeGreaterThan(
      300_000,
    );
    worst.push(blocks.reduce((m, x) => Math.max(m, x.cpuMs), 0));
  }
  console.log('finish(): longest loop block, ms (cold, warm):', worst.map((x) => x.toFixed(1)).join(' '));
  // Before: 120-200 ms warm (the whole footer in one call).
  measured(worst[1]!, 'warm finish(): longest loop block, ms').toBeLessThan(30);
});
