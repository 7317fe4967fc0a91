/**
 * Delta tables written by the project's own writer for S3-surface tests: partition values with
 * `%`, `/`, spaces, `=`, `+` and unicode on both sides of the UTF-16 surrogate range.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeltaTableWriter, directoryTarget } from '../../lambda/local/delta-writer';
import { writeDemoTable } from '../../lambda/local/demo-table';
import { backendClient, createBucket, uploadDir } from './s3-servers';

export const SPECIAL_REGIONS = ['EU', 'US', 'a/b c', 'ü+=x', '😈', '\uFF21', '50%'];

/** Writes a table partitioned by (region, date); returns its directory. */
export async function writeSpecialTable(
  regions: readonly string[] = SPECIAL_REGIONS,
  dates = ['2024-01-01', '2024-01-02'],
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'special-table-'));
  const writer = new DeltaTableWriter(directoryTarget(dir), {
    schema: [
      { name: 'id', type: 'long' },
      { name: 'region', type: 'string' },
      { name: 'date', type: 'date' },
    ],
    partitionColumns: ['region', 'date'],
  });
  await writer.create();
  const adds = [];
  let id = 0;
  for (const region of regions)
    for (const date of dates)
      adds.push(await writer.writeDataFile({ region, date }, [{ id: id++, region, date }]));
  await writer.commit({ add: adds });
  await writer.checkpoint();
  return dir;
}

/** The demo table (lambda/local/demo-table.ts) uploaded to `bucket/prefix` on a backend; returns its active files. */
export async function uploadDemoTable(endpoint: string, bucket: string, prefix: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'demo-'));
  const active = await writeDemoTable(directoryTarget(dir));
  const client = backendClient(endpoint);
  await createBucket(client, bucket);
  await uploadDir(client, bucket, prefix, dir);
  client.destroy();
  return active;
}
