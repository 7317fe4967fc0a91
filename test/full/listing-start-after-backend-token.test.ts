/**
 * The SDK paginators send a listing's StartAfter again with every ContinuationToken. When the
 * first request spends its page budget on a run of key-less backend pages (S3 over delete
 * markers), its token resumes at the backend's own token with the same key as StartAfter: that
 * token must still be followed, or every page restarts at StartAfter and the listing never ends.
 */
import { paginateListObjectsV2, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { keyFor } from '../helpers/authz-harness';
import { type EmptyRunLake, READER, startEmptyRunLake } from '../helpers/empty-run-lake';

let lake: EmptyRunLake;
let client: S3Client;
beforeAll(async () => {
  lake = await startEmptyRunLake('start-after-run-lake', 120);
  const { accessKeyId, secretAccessKey } = keyFor(READER);
  client = new S3Client({
    endpoint: lake.proxy.url,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
}, 120_000);
afterAll(async () => {
  client?.destroy();
  await lake?.stop();
});

it('a v2 paginator with StartAfter gets past a run of key-less pages and ends', async () => {
  const keys: string[] = [];
  let pages = 0;
  const input = { Bucket: 'datalake', Prefix: 'sales/region=', StartAfter: 'sales/region=F' };
  for await (const page of paginateListObjectsV2({ client }, input)) {
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    // 120 key-less pages at 50 a request: a handful of requests, not an endless loop.
    if (++pages > 10) break;
  }
  expect(pages).toBeLessThanOrEqual(10);
  expect(keys.map((k) => k.slice(0, 'sales/region=ZZ/'.length))).toEqual(['sales/region=ZZ/']);
}, 120_000);
