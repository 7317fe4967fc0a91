/**
 * S3 may answer listing pages with no key and IsTruncated (a run of delete markers). One client
 * request must still read at most the listing's page budget (50 backend pages), however long the
 * run: it hands the client a token that resumes where it stopped, and the v1 and v2 paginators
 * still reach every visible key and end.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AuthzProxy, keyFor, parseListPage, startAuthzProxy } from '../helpers/authz-harness';
import { writeRegionFiles } from '../helpers/fixture-tables';
import { type MisbehavingS3, startMisbehavingS3 } from '../helpers/misbehaving-s3';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { signedFetch } from '../helpers/signed-fetch';

const BUCKET = 'empty-run-lake';
const READER = 'reader';
const STAND_INS = 180;
let upstream: S3Server;
let front: MisbehavingS3;
let client: S3Client;
let proxy: AuthzProxy;

const isRegionListing = (r: { key: string; query: URLSearchParams }) =>
  r.key === '' && (r.query.get('prefix') ?? '').startsWith('t/region=');

beforeAll(async () => {
  upstream = await startS3rver();
  client = backendClient(upstream.endpoint);
  await createBucket(client, BUCKET);
  await writeRegionFiles(client, BUCKET, 't/', ['EU', 'ZZ']);
  // Stand-ins for delete markers: keys the backend's pages skip over without returning.
  for (let i = 0; i < STAND_INS; i++)
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `t/region=MM/${String(i).padStart(3, '0')}.parquet`,
        Body: new Uint8Array(1),
      }),
    );
  front = await startMisbehavingS3(upstream);
  front.onRequest = (r) => {
    if (!isRegionListing(r)) return undefined;
    const query = new URLSearchParams(r.query);
    query.set('max-keys', '1');
    // One key a page, and a page holding only a stand-in comes back empty (still truncated).
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
  proxy = await startAuthzProxy(
    front,
    {
      logView: 'filtered',
      tableMapping: { sales: `s3://${BUCKET}/t` },
      grants: [{ principal: READER, table: 'sales', partitions: [{ region: 'EU' }, { region: 'ZZ' }] }],
    },
    [READER],
  );
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await front?.stop();
  client?.destroy();
  await upstream?.stop();
});

/** Pages through as the SDK paginators do; per client request, the backend listing pages it read. */
async function paginate(version: 1 | 2, delimiter?: string) {
  const keys: string[] = [];
  const backendPages: number[] = [];
  let token: string | undefined;
  let marker: string | undefined;
  for (let i = 0; i < 40; i++) {
    const q = new URLSearchParams({ prefix: 'sales/region=' });
    if (delimiter) q.set('delimiter', delimiter);
    if (version === 2) {
      q.set('list-type', '2');
      if (token) q.set('continuation-token', token);
    } else if (marker !== undefined) q.set('marker', marker);
    const before = front.seen.filter(isRegionListing).length;
    const r = await signedFetch(proxy.url, 'GET', '/datalake', q.toString(), {}, keyFor(READER));
    backendPages.push(front.seen.filter(isRegionListing).length - before);
    expect(r.status).toBe(200);
    const page = parseListPage(r, false);
    keys.push(...page.keys, ...page.prefixes);
    if (!page.truncated) return { keys, backendPages };
    if (version === 2) token = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(r.text)?.[1];
    else marker = page.nextMarker ?? page.keys.at(-1);
    expect(version === 2 ? token : marker).toBeDefined();
  }
  throw new Error(`listing did not end: ${backendPages.length} requests`);
}

it.each([
  [2, undefined],
  [1, undefined],
  [2, '/'],
  [1, '/'],
] as const)(
  'v%i (delimiter %s): a run of key-less pages costs each request at most the page budget, and the listing ends',
  async (v, delimiter) => {
    const { keys, backendPages } = await paginate(v, delimiter);
    expect(keys.map((k) => k.slice(0, 'sales/region=EU'.length))).toEqual([
      'sales/region=EU',
      'sales/region=ZZ',
    ]);
    expect(Math.max(...backendPages)).toBeLessThanOrEqual(50);
  },
  120_000,
);
