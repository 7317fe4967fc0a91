/**
 * S3 may answer a listing page with no key at all and IsTruncated (a run of delete markers in a
 * versioned bucket, e.g. after VACUUM). A run of such pages longer than the proxy's page budget
 * must not make the client's listing start over from the same place forever.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AuthzProxy, listAllPages, startAuthzProxy } from '../helpers/authz-harness';
import { writeRegionFiles } from '../helpers/fixture-tables';
import { type MisbehavingS3, startMisbehavingS3 } from '../helpers/misbehaving-s3';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';

const BUCKET = 'empty-pages-lake';
const READER = 'reader';
let upstream: S3Server;
let front: MisbehavingS3;
let client: S3Client;
let proxy: AuthzProxy;

beforeAll(async () => {
  upstream = await startS3rver();
  client = backendClient(upstream.endpoint);
  await createBucket(client, BUCKET);
  const put = async (key: string, bytes: Uint8Array) => {
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bytes }));
  };
  await writeRegionFiles(client, BUCKET, 't/', ['EU', 'ZZ']);
  // Stand-ins for delete markers: keys the backend's pages skip over without returning.
  for (let i = 0; i < 60; i++)
    await put(`t/region=MM/${String(i).padStart(3, '0')}.parquet`, new Uint8Array(1));
  front = await startMisbehavingS3(upstream);
  front.onRequest = (r) => {
    if (r.key !== '' || !(r.query.get('prefix') ?? '').startsWith('t/region=')) return undefined;
    const q = new URLSearchParams(r.query);
    q.set('max-keys', '1');
    return { query: q };
  };
  const drop = front.onRequest;
  front.onRequest = (r) => {
    const f = drop(r);
    if (!f) return undefined;
    // One key a page, and a page holding only a stand-in comes back empty (still truncated).
    return {
      ...f,
      rewrite: (body: Buffer) =>
        Buffer.from(
          body
            .toString('utf8')
            .replace(/<Contents>(?:(?!<\/Contents>)[\s\S])*?region=MM\/[\s\S]*?<\/Contents>/g, ''),
        ),
    };
  };
  proxy = await startAuthzProxy(
    front,
    {
      logView: 'filtered',
      tableMapping: { sales: `s3://${BUCKET}/t` },
      grants: [{ principal: READER, table: 'sales', partitions: [{ region: 'EU' }, { region: 'ZZ' }] }],
    },
    [READER],
  );
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await front?.stop();
  client?.destroy();
  await upstream?.stop();
});

it.each([1, 2] as const)(
  'v%i: a run of empty truncated backend pages longer than the budget ends',
  async (v) => {
    const pages = await listAllPages(proxy.url, READER, v, { prefix: 'sales/region=' }, 'datalake', 20);
    expect(pages.flatMap((p) => p.keys).map((k) => k.slice(0, 'sales/region=EU'.length))).toEqual([
      'sales/region=EU',
      'sales/region=ZZ',
    ]);
  },
  60_000,
);
