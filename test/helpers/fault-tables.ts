/**
 * Small Delta tables written straight into a backend bucket by the project's fixture writer, for
 * suites that put a misbehaving backend (misbehaving-s3.ts) between the proxy and them.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DeltaTableWriter, type DeltaWriterTarget } from '../../lambda/local/delta-writer';

export interface TestTable {
  alias: string;
  bucket: string;
  prefix: string;
  uri: string;
  writer: DeltaTableWriter;
  /** Writes and commits one file per region (one commit each); returns their relative paths. */
  commitFiles(...regions: string[]): Promise<string[]>;
}

function s3Target(client: S3Client, bucket: string, prefix: string): DeltaWriterTarget {
  return {
    async put(rel, bytes) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + rel, Body: bytes }));
    },
  };
}

/** A table partitioned by `region` at s3://bucket/prefix (prefix ends in "/"). */
export async function writeTable(
  client: S3Client,
  bucket: string,
  alias: string,
  prefix: string,
  options: { now?: () => number } = {},
): Promise<TestTable> {
  const writer = new DeltaTableWriter(s3Target(client, bucket, prefix), {
    schema: [
      { name: 'id', type: 'long' },
      { name: 'region', type: 'string' },
    ],
    partitionColumns: ['region'],
    ...(options.now ? { now: options.now } : {}),
  });
  await writer.create();
  let id = 0;
  return {
    alias,
    bucket,
    prefix,
    uri: `s3://${bucket}/${prefix.replace(/\/$/, '')}`,
    writer,
    async commitFiles(...regions) {
      const out: string[] = [];
      for (const region of regions) {
        const f = await writer.writeDataFile({ region }, [{ id: id++, region }]);
        await writer.commit({ add: [f] });
        out.push(decodeURIComponent(f.path));
      }
      return out;
    },
  };
}
