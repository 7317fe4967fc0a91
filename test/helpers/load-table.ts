/**
 * The Delta table the load suite and `npm run bench -- load` serve: `sales`, partitioned by
 * (region, date), written by the project's fixture writer straight into a real S3 server. Small
 * data files (~1 KB) in every partition, medium ones (~1 MiB, incompressible) in three, a
 * checkpoint, a later commit, and a removed file that stays on storage.
 */
import { randomBytes } from 'node:crypto';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DeltaTableWriter, type PartitionValues } from '../../lambda/local/delta-writer';
import { createBucket } from './s3-servers';

export const LOAD_BUCKET = 'lake';
export const LOAD_PREFIX = 'warehouse/sales';

/** A data file of the table: its key under the table root, as stored. */
export interface LoadFile {
  key: string;
  partition: { region: string; date: string };
  size: number;
  medium: boolean;
  /** Removed by a later commit (still on storage, no longer part of the table). */
  removed: boolean;
}

const PARTITIONS = [
  { region: 'EU', date: '2024-01-01' },
  { region: 'EU', date: '2024-01-02' },
  { region: 'US', date: '2024-01-01' },
  { region: 'US', date: '2024-01-02' },
  { region: 'APAC', date: '2024-01-01' },
];
const MEDIUM_IN = ['EU/2024-01-01', 'US/2024-01-01', 'APAC/2024-01-01'];

/** The analyst's grant: all of EU, US on one day; APAC and US 2024-01-02 stay hidden. */
export const LOAD_GRANT: Record<string, string>[] = [{ region: 'EU' }, { region: 'US', date: '2024-01-01' }];

export function isGranted(p: { region: string; date: string }): boolean {
  return p.region === 'EU' || (p.region === 'US' && p.date === '2024-01-01');
}

function rows(p: { region: string; date: string }, n: number, payloadBytes: number, seed: number) {
  return Array.from({ length: n }, (_, i) => ({
    id: seed * 100_000 + i,
    // Random hex does not compress: the file is as large as it says.
    payload: randomBytes(payloadBytes / 2).toString('hex'),
    region: p.region,
    date: p.date,
  }));
}

/** Writes the table into bucket `lake` (created here); returns every data file written. */
export async function writeLoadTable(client: S3Client): Promise<LoadFile[]> {
  await createBucket(client, LOAD_BUCKET);
  const sizes = new Map<string, number>();
  const writer = new DeltaTableWriter(
    {
      put: async (rel, bytes) => {
        sizes.set(rel, bytes.byteLength);
        await client.send(
          new PutObjectCommand({ Bucket: LOAD_BUCKET, Key: `${LOAD_PREFIX}/${rel}`, Body: bytes }),
        );
      },
    },
    {
      name: 'sales',
      schema: [
        { name: 'id', type: 'long' },
        { name: 'payload', type: 'string' },
        { name: 'region', type: 'string' },
        { name: 'date', type: 'date' },
      ],
      partitionColumns: ['region', 'date'],
    },
  );
  const files: LoadFile[] = [];
  const write = async (p: { region: string; date: string }, medium: boolean, seed: number) => {
    const add = await writer.writeDataFile(
      p as PartitionValues,
      medium ? rows(p, 1024, 1024, seed) : rows(p, 4, 128, seed),
    );
    const key = decodeURI(add.path);
    files.push({ key, partition: p, size: sizes.get(key)!, medium, removed: false });
    return add;
  };
  await writer.create();
  let seed = 0;
  const first = [];
  for (const p of PARTITIONS) for (let i = 0; i < 3; i++) first.push(await write(p, false, seed++));
  await writer.commit({ add: first });
  const second = [];
  for (const p of PARTITIONS) {
    if (MEDIUM_IN.includes(`${p.region}/${p.date}`)) second.push(await write(p, true, seed++));
  }
  await writer.commit({ add: second });
  await writer.checkpoint();
  // After the checkpoint: one more small file in EU, and one EU file removed (kept on storage).
  const late = await write(PARTITIONS[0]!, false, seed++);
  const removed = first[1]!;
  await writer.commit({ add: [late], remove: [removed.path] });
  files.find((f) => f.key === decodeURI(removed.path))!.removed = true;
  return files;
}
