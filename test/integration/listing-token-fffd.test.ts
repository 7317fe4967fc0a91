/**
 * A v2 continuation token after a key holding U+FFFD (a valid character, e.g. in a partition
 * value or file name) must resume the listing, not be refused as a malformed token.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AuthzProxy, listAllPages, startAuthzProxy } from '../helpers/authz-harness';
import { writeRegionFiles } from '../helpers/fixture-tables';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';

const BUCKET = 'fffd-lake';
const READER = 'reader';
let upstream: S3Server;
let client: S3Client;
let proxy: AuthzProxy;

beforeAll(async () => {
  upstream = await startS3rver();
  client = backendClient(upstream.endpoint);
  await createBucket(client, BUCKET);
  await writeRegionFiles(client, BUCKET, 't/', ['EU\uFFFD', 'EU\uFFFD', 'US']);
  proxy = await startAuthzProxy(
    upstream,
    {
      logView: 'filtered',
      tableMapping: { sales: `s3://${BUCKET}/t` },
      grants: [{ principal: READER, table: 'sales', partitions: [{ region: 'EU\uFFFD' }] }],
    },
    [READER],
  );
});

afterAll(async () => {
  await proxy?.stop();
  client?.destroy();
  await upstream?.stop();
});

it('pages with max-keys 1 through keys holding U+FFFD (v2 continuation tokens)', async () => {
  const whole = (await listAllPages(proxy.url, READER, 2, { prefix: 'sales/region=' })).flatMap(
    (p) => p.keys,
  );
  expect(whole).toHaveLength(2);
  for (const delimiter of [undefined, '/']) {
    const pages = await listAllPages(proxy.url, READER, 2, {
      prefix: 'sales/region=',
      delimiter,
      maxKeys: 1,
    });
    expect(pages.map((p) => p.status)).not.toContain(400);
    const got = pages.flatMap((p) => [...p.keys, ...p.prefixes]);
    expect(got).toEqual(delimiter ? ['sales/region=EU\uFFFD/'] : whole);
  }
});
