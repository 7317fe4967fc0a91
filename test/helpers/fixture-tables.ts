import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type AddFile, DeltaTableWriter, directoryTarget } from '../../lambda/local/delta-writer';
import { writeDemoTable } from '../../lambda/local/demo-table';
import { backendClient, createBucket, uploadDir } from './s3-servers';
import { tempDir } from './temp-dir';

export const SPECIAL_REGIONS = ['EU', 'US', 'a/b c', 'ü+=x', '😈', '\uFF21', '50%'];

/** Writes a table partitioned by (region, date); returns its directory. */
export async function writeSpecialTable(
  regions: readonly string[] = SPECIAL_REGIONS,
  dates = ['2024-01-01', '2024-01-02'],
): Promise<string> {
  const dir = tempDir('special-table-');
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

/**
 * A table partitioned by `region` in a temporary directory: each of `versions` commits adds one EU
 * and one US file, and a checkpoint follows each version in `checkpointAt`. Returns the directory
 * and every add, in commit order.
 */
export async function writeRegionTable(
  versions: number,
  checkpointAt: readonly number[],
): Promise<{ dir: string; adds: AddFile[] }> {
  const dir = tempDir('region-table-');
  const w = new DeltaTableWriter(directoryTarget(dir), {
    schema: [
      { name: 'id', type: 'long' },
      { name: 'region', type: 'string' },
    ],
    partitionColumns: ['region'],
  });
  await w.create();
  const adds: AddFile[] = [];
  for (let v = 1; v <= versions; v++) {
    const eu = await w.writeDataFile({ region: 'EU' }, [{ id: v, region: 'EU' }]);
    const us = await w.writeDataFile({ region: 'US' }, [{ id: v, region: 'US' }]);
    await w.commit({ add: [eu, us] });
    adds.push(eu, us);
    if (checkpointAt.includes(v)) await w.checkpoint();
  }
  return { dir, adds };
}

/** The demo table (lambda/local/demo-table.ts) uploaded to `bucket/prefix` on a backend; returns its active files. */
export async function uploadDemoTable(endpoint: string, bucket: string, prefix: string): Promise<string[]> {
  const dir = tempDir('demo-');
  const active = await writeDemoTable(directoryTarget(dir));
  await uploadTable(endpoint, bucket, prefix, dir);
  return active;
}

/** Creates `bucket` on a backend and uploads a table's directory under `prefix`. */
export async function uploadTable(
  endpoint: string,
  bucket: string,
  prefix: string,
  dir: string,
): Promise<void> {
  const client = backendClient(endpoint);
  try {
    await createBucket(client, bucket);
    await uploadDir(client, bucket, prefix, dir);
  } finally {
    client.destroy();
  }
}

/**
 * Writes a table partitioned by `region` straight into a backend bucket under `prefix` (with its
 * trailing slash): one data file per entry of `regions` (a region named twice gets two), in one
 * commit. The bucket must exist. Returns the adds.
 */
export async function writeRegionFiles(
  client: S3Client,
  bucket: string,
  prefix: string,
  regions: readonly string[],
): Promise<AddFile[]> {
  const writer = new DeltaTableWriter(
    {
      async put(rel, bytes) {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + rel, Body: bytes }));
      },
    },
    {
      schema: [
        { name: 'id', type: 'long' },
        { name: 'region', type: 'string' },
      ],
      partitionColumns: ['region'],
    },
  );
  await writer.create();
  const adds = [];
  for (const region of regions)
    adds.push(await writer.writeDataFile({ region }, [{ id: adds.length, region }]));
  await writer.commit({ add: adds });
  return adds;
}
