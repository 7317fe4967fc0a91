/**
 * A table behind a backend front that answers its region listings one key a page, and the pages
 * holding only a stand-in for a delete marker (`region=MM/`) with no key at all, still truncated:
 * S3 over a run of delete markers. Two regions (EU, ZZ) are granted to READER.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { type AuthzProxy, startAuthzProxy } from './authz-harness';
import { writeRegionFiles } from './fixture-tables';
import { type BackendRequest, type Fault, type MisbehavingS3, startMisbehavingS3 } from './misbehaving-s3';
import { backendClient, createBucket, startS3rver } from './s3-servers';

export const READER = 'reader';

export interface EmptyRunLake {
  front: MisbehavingS3;
  proxy: AuthzProxy;
  stop(): Promise<void>;
}

/** A backend listing request of the table's regions (what the run of empty pages answers). */
export const isRegionListing = (r: { key: string; query: URLSearchParams }) =>
  r.key === '' && (r.query.get('prefix') ?? '').startsWith('t/region=');

/**
 * Answers the listings `matches` picks one key a page, and a page holding only a stand-in under
 * `region=MM/` with no key at all (still truncated), as S3 answers over delete markers.
 */
export function keylessPages(
  matches: (r: BackendRequest) => boolean,
): (r: BackendRequest) => Fault | undefined {
  return (r) => {
    if (!matches(r)) return undefined;
    const query = new URLSearchParams(r.query);
    query.set('max-keys', '1');
    return {
      query,
      rewrite: (body: Buffer) =>
        Buffer.from(
          body
            .toString('utf8')
            .replace(/<Contents>(?:(?!<\/Contents>)[\s\S])*?region=MM\/[\s\S]*?<\/Contents>/g, ''),
        ),
    };
  };
}

export async function startEmptyRunLake(bucket: string, standIns: number): Promise<EmptyRunLake> {
  const upstream = await startS3rver();
  const client = backendClient(upstream.endpoint);
  await createBucket(client, bucket);
  await writeRegionFiles(client, bucket, 't/', ['EU', 'ZZ']);
  // Stand-ins for delete markers: keys the backend's pages skip over without returning.
  for (let i = 0; i < standIns; i++)
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `t/region=MM/${String(i).padStart(3, '0')}.parquet`,
        Body: new Uint8Array(1),
      }),
    );
  const front = await startMisbehavingS3(upstream);
  front.onRequest = keylessPages(isRegionListing);
  const proxy = await startAuthzProxy(
    front,
    {
      logView: 'filtered',
      tableMapping: { sales: `s3://${bucket}/t` },
      grants: [{ principal: READER, table: 'sales', partitions: [{ region: 'EU' }, { region: 'ZZ' }] }],
    },
    [READER],
  );
  return {
    front,
    proxy,
    async stop() {
      await proxy.stop();
      await front.stop();
      client.destroy();
      await upstream.stop();
    },
  };
}
