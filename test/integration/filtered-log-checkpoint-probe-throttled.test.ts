/**
 * A reader GETs a checkpoint another instance's `_last_checkpoint` named, from an instance whose
 * listing predates it: that instance looks for it with a short listing. When that look is
 * throttled, the GET must not be a 404 (readers do not retry one: the table read fails), but an
 * error the SDKs retry, and the checkpoint is served once the backend answers again.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { versionPrefix } from '../../lambda/delta/log-path';
import { type AuthzProxy, ManualClock, objectRequest, startAuthzProxy } from '../helpers/authz-harness';
import { writeTable } from '../helpers/fault-tables';
import { type MisbehavingS3, startMisbehavingS3 } from '../helpers/misbehaving-s3';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';
import { unhandledRejectionsPerTest } from '../helpers/unhandled-rejections';

const code = (text: string) => /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
const unhandled = unhandledRejectionsPerTest();

let upstream: S3Server;
let backend: MisbehavingS3;
let client: S3Client;
let proxy: AuthzProxy | undefined;

beforeAll(async () => {
  upstream = await startS3rver();
  backend = await startMisbehavingS3(upstream);
  client = backendClient(upstream.endpoint);
  await createBucket(client, 'lake');
});
afterAll(async () => {
  await proxy?.stop();
  client?.destroy();
  await backend?.stop();
  await upstream?.stop();
});

it('a throttled look for a checkpoint the listing lacks answers a retryable error, not 404', async () => {
  const prefix = 't/';
  const table = await writeTable(client, 'lake', 't', prefix);
  await table.commitFiles('EU', 'US', 'EU'); // 1..3
  const clock = new ManualClock();
  proxy = await startAuthzProxy(
    backend,
    {
      logView: 'filtered',
      tableMapping: { t: 's3://lake/t' },
      grants: [{ principal: 'eu', table: 't', partitions: [{ region: 'EU' }] }],
      snapshotTtlMs: 600_000,
    },
    ['eu'],
    { clock },
  );
  const commit3 = `t/_delta_log/${versionPrefix(3)}.json`;
  expect((await objectRequest(proxy.url, 'GET', commit3, 'eu', 'datalake', clock)).status).toBe(200);
  await table.writer.checkpoint(); // at 3, after this instance listed version 3

  // The look (a listing from version 3) is throttled, retries included.
  const look = `${prefix}_delta_log/${versionPrefix(3)}`;
  let throttled = 0;
  backend.onRequest = (r) => {
    if (r.key === '' && r.query.get('start-after') === look) {
      throttled++;
      return { status: 503, code: 'SlowDown' };
    }
    return undefined;
  };
  const checkpoint = `t/_delta_log/${versionPrefix(3)}.checkpoint.parquet`;
  const first = await objectRequest(proxy.url, 'GET', checkpoint, 'eu', 'datalake', clock);
  expect(throttled).toBeGreaterThan(0);
  expect([first.status, code(first.text)]).not.toEqual([404, 'NoSuchKey']);
  expect(first.status).toBe(503);

  backend.onRequest = () => undefined;
  clock.advance(50); // the look's rate limit
  const again = await objectRequest(proxy.url, 'GET', checkpoint, 'eu', 'datalake', clock);
  expect(again.status).toBe(200);
  expect(unhandled).toEqual([]);
});
