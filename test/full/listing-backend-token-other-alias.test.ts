/**
 * Two aliases mapped to one table location list the same backend prefix. A continuation token that
 * carries the backend's own token (a run of key-less pages in the first table) must resume only
 * that table's backend listing: the second table is listed from its start, or its first keys are
 * never shown.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AuthzProxy, keyFor, parseListPage, startAuthzProxy } from '../helpers/authz-harness';
import { keylessPages } from '../helpers/empty-run-lake';
import { writeRegionFiles } from '../helpers/fixture-tables';
import { type MisbehavingS3, startMisbehavingS3 } from '../helpers/misbehaving-s3';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { signedFetch } from '../helpers/signed-fetch';

const BUCKET = 'two-alias-lake';
const READER = 'reader';
let upstream: S3Server;
let front: MisbehavingS3;
let proxy: AuthzProxy;
let client: ReturnType<typeof backendClient>;

beforeAll(async () => {
  upstream = await startS3rver();
  client = backendClient(upstream.endpoint);
  await createBucket(client, BUCKET);
  await writeRegionFiles(client, BUCKET, 't/', ['EU', 'ZZ']);
  // Stand-ins for delete markers: keys the backend's pages skip over without returning.
  for (let i = 0; i < 120; i++)
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `t/region=MM/${String(i).padStart(3, '0')}`,
        Body: new Uint8Array(1),
      }),
    );
  front = await startMisbehavingS3(upstream);
  front.onRequest = keylessPages((r) => r.key === '' && r.query.get('prefix') === 't/');
  const regions = [{ region: 'EU' }, { region: 'ZZ' }];
  proxy = await startAuthzProxy(
    front,
    {
      logView: 'filtered',
      tableMapping: { sales: `s3://${BUCKET}/t`, sales2: `s3://${BUCKET}/t` },
      grants: [
        { principal: READER, table: 'sales', partitions: regions },
        { principal: READER, table: 'sales2', partitions: regions },
      ],
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

it('a backend token of one alias does not skip the start of another alias on the same location', async () => {
  const keys: string[] = [];
  let token: string | undefined;
  for (let i = 0; i < 30; i++) {
    const q = new URLSearchParams({ 'list-type': '2', prefix: 'sales', 'start-after': 'sales/region=F' });
    if (token) q.set('continuation-token', token);
    const r = await signedFetch(proxy.url, 'GET', '/datalake', q.toString(), {}, keyFor(READER));
    expect(r.status).toBe(200);
    const page = parseListPage(r, false);
    keys.push(...page.keys);
    if (!page.truncated) break;
    token = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(r.text)?.[1];
    expect(token).toBeDefined();
  }
  expect(keys.some((k) => k.startsWith('sales/region=ZZ/'))).toBe(true);
  expect(keys.some((k) => k.startsWith('sales2/region=EU/'))).toBe(true);
  expect(keys.some((k) => k.startsWith('sales2/region=ZZ/'))).toBe(true);
}, 120_000);
