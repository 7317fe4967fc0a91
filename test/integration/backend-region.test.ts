/**
 * The backend region: a function deployed in eu-west-1 (AWS_REGION, as Lambda sets it) signs
 * every backend request and every presigned URL for eu-west-1, and a mapped bucket in another
 * region is found from S3's own wrong-region answer. The S3 front in front of s3rver answers
 * like S3 does: 301 PermanentRedirect with `x-amz-bucket-region` to a request signed for any
 * other region than the bucket's.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeServer } from '../../lambda/adapters/node-server';
import { createProxy } from '../../lambda/bootstrap';
import { loadConfig } from '../../lambda/config';
import { uploadDemoTable } from '../helpers/fixture-tables';
import { ANALYST } from '../helpers/proxy-harness';
import { type S3Front, scopeRegion, startS3Front, wrongRegion } from '../helpers/s3-front';
import { BACKEND_CREDENTIALS, type S3Server, startS3rver } from '../helpers/s3-servers';
import { encodeKeyPath, signedFetch } from '../helpers/signed-fetch';

const BUCKET_REGIONS: Record<string, string> = {
  'lake-eu': 'eu-west-1',
  'lake-usw2': 'us-west-2',
  'lake-apse': 'ap-southeast-2',
};
// A client that follows redirects by default (the client helper; see redirect-policy.ts).
const REDIRECTING_UA = { 'user-agent': 'delta-proxy-client/1.0' };

let s3: S3Server;
let front: S3Front;
let euFiles: string[];
let usFiles: string[];
let proxyUrl: string;
let closeProxy: () => Promise<void>;
let region: string | undefined;

const bucketOf = (path: string) => decodeURIComponent(path.split('/')[1] ?? '');
const seenFor = (bucket: string) => front.seen.filter((r) => bucketOf(r.path) === bucket);

beforeAll(async () => {
  s3 = await startS3rver();
  euFiles = await uploadDemoTable(s3.endpoint, 'lake-eu', 'w/sales/');
  usFiles = await uploadDemoTable(s3.endpoint, 'lake-usw2', 'w/events/');
  await uploadDemoTable(s3.endpoint, 'lake-apse', 'w/orders/');
  front = await startS3Front(s3.endpoint);
  front.rules.push((req) => {
    const bucket = bucketOf(req.path);
    const expected = BUCKET_REGIONS[bucket];
    if (!expected || req.signingRegion === expected) return undefined;
    // Opt-in regions and regional endpoints answer 400 instead of 301, naming the region too.
    if (bucket === 'lake-apse')
      return {
        status: 400,
        code: 'AuthorizationHeaderMalformed',
        message: `The authorization header is malformed; the region '${req.signingRegion}' is wrong; expecting '${expected}'`,
        headers: { 'x-amz-bucket-region': expected },
      };
    return wrongRegion(expected);
  });
  // The function's environment as Lambda hands it over: AWS_REGION set, no region in PROXY_S3.
  const config = loadConfig({
    env: {
      AWS_REGION: 'eu-west-1',
      PROXY_TABLE_MAPPING: JSON.stringify({
        sales: 's3://lake-eu/w/sales',
        events: 's3://lake-usw2/w/events',
        orders: 's3://lake-apse/w/orders',
      }),
      PROXY_S3: JSON.stringify({ endpoint: front.endpoint, forcePathStyle: true }),
      PROXY_AUTH: JSON.stringify({ keys: [ANALYST] }),
      PROXY_GRANTS: JSON.stringify([
        { principal: ANALYST.principal, table: 'sales', partitions: [{}] },
        { principal: ANALYST.principal, table: 'events', partitions: [{}] },
        { principal: ANALYST.principal, table: 'orders', partitions: [{}] },
      ]),
      PROXY_GET_MODE: 'presignedUrl',
      // Raw log view: log files are then redirected like data files, which is what lets the
      // first request to a bucket be a presigned URL signed before any snapshot is read.
      PROXY_LOG_VIEW: 'raw',
    },
  });
  region = config.s3.region;
  const proxy = createProxy(config, { backendCredentials: BACKEND_CREDENTIALS, audit: false });
  const server = await startNodeServer(proxy.handler, '127.0.0.1', 0);
  proxyUrl = server.url;
  closeProxy = () => server.close();
});
afterAll(async () => {
  await closeProxy?.();
  await front?.stop();
  await s3?.stop();
});

function client(): S3Client {
  return new S3Client({
    endpoint: proxyUrl,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { ...ANALYST },
    maxAttempts: 1,
  });
}

describe('backend region', () => {
  it("defaults to the function's region (AWS_REGION)", () => {
    expect(region).toBe('eu-west-1');
  });

  it('signs every backend request for the region of the function', async () => {
    const c = client();
    const listed = await c.send(new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'sales/' }));
    expect(listed.Contents?.length).toBeGreaterThan(0);
    const got = await c.send(new GetObjectCommand({ Bucket: 'datalake', Key: `sales/${euFiles[0]}` }));
    expect((await got.Body!.transformToByteArray()).byteLength).toBeGreaterThan(0);
    c.destroy();
    const regions = new Set(seenFor('lake-eu').map((r) => r.signingRegion));
    expect(regions).toEqual(new Set(['eu-west-1']));
  });

  it("names the bucket's region in presigned URLs, which S3 then serves", async () => {
    const path = `/datalake/${encodeKeyPath(`sales/${euFiles[0]}`)}`;
    const r = await signedFetch(proxyUrl, 'GET', path, '', REDIRECTING_UA, ANALYST);
    expect(r.status).toBe(307);
    const location = new URL(r.headers.location!);
    expect(scopeRegion(location.searchParams.get('X-Amz-Credential'))).toBe('eu-west-1');
    const followed = await fetch(location, { signal: AbortSignal.timeout(10_000) });
    expect(followed.status).toBe(200);
  });

  it('finds a bucket in another region from S3’s redirect, once, and presigns for that region', async () => {
    // The first request touching the bucket is a presigned redirect (raw log files need no
    // snapshot), so the region must be known before the URL is signed.
    expect(usFiles.length).toBeGreaterThan(0);
    const path = '/datalake/events/_delta_log/00000000000000000000.json';
    const r = await signedFetch(proxyUrl, 'GET', path, '', REDIRECTING_UA, ANALYST);
    expect(r.status).toBe(307);
    const location = new URL(r.headers.location!);
    expect(scopeRegion(location.searchParams.get('X-Amz-Credential'))).toBe('us-west-2');
    expect((await fetch(location, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);

    const c = client();
    const listed = await c.send(new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'events/' }));
    expect(listed.Contents?.length).toBeGreaterThan(0);
    c.destroy();
    const redirected = seenFor('lake-usw2').filter((s) => s.signingRegion !== 'us-west-2');
    expect(redirected).toHaveLength(1);
  });

  it('also follows the 400 AuthorizationHeaderMalformed that names the region', async () => {
    const c = client();
    const listed = await c.send(new ListObjectsV2Command({ Bucket: 'datalake', Prefix: 'orders/' }));
    expect(listed.Contents?.length).toBeGreaterThan(0);
    c.destroy();
    const refused = seenFor('lake-apse').filter((s) => s.signingRegion !== 'ap-southeast-2');
    expect(refused).toHaveLength(1);
  });
});
