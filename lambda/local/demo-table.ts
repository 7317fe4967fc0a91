/**
 * The demo table `npm start` serves: sales partitioned by region and date, written by the
 * project's own Delta writer (real Parquet, JSON commits, a checkpoint, a later commit and a
 * removed file), so the local run exercises the same replay as a real table.
 */
import { DeltaTableWriter, type DeltaWriterTarget } from './delta-writer';

export const DEMO_PARTITIONS = [
  { region: 'EU', date: '2024-01-01' },
  { region: 'EU', date: '2024-01-02' },
  { region: 'US', date: '2024-01-01' },
  { region: 'US', date: '2024-01-02' },
  { region: 'APAC', date: '2024-01-01' },
] as const;

function rows(region: string, date: string, n: number, seed: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    id: seed * 1000 + i,
    customer: `customer-${(seed * 7 + i) % 13}`,
    amount: Math.round(((seed + 1) * 13.37 + i * 2.5) * 100) / 100,
    region,
    date,
  }));
}

/** Writes the demo table; returns the data files that are active at the end. */
export async function writeDemoTable(target: DeltaWriterTarget): Promise<string[]> {
  const writer = new DeltaTableWriter(target, {
    name: 'sales',
    schema: [
      { name: 'id', type: 'long' },
      { name: 'customer', type: 'string' },
      { name: 'amount', type: 'double' },
      { name: 'region', type: 'string' },
      { name: 'date', type: 'date' },
    ],
    partitionColumns: ['region', 'date'],
  });
  await writer.create();
  let seed = 0;
  const first = [];
  for (const p of DEMO_PARTITIONS)
    first.push(await writer.writeDataFile(p, rows(p.region, p.date, 5, seed++)));
  await writer.commit({ add: first, operation: 'WRITE' });
  const second = [];
  for (const p of DEMO_PARTITIONS.slice(0, 3))
    second.push(await writer.writeDataFile(p, rows(p.region, p.date, 3, seed++)));
  await writer.commit({ add: second, operation: 'WRITE' });
  await writer.checkpoint();
  // A later commit after the checkpoint: one new file, one file removed (it stays on storage).
  const late = await writer.writeDataFile(DEMO_PARTITIONS[3], rows('US', '2024-01-02', 4, seed++));
  await writer.commit({ add: [late], remove: [first[4]!.path], operation: 'WRITE' });
  return writer.activeFiles().map((f) => decodeURI(f.path));
}
