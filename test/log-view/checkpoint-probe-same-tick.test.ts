/**
 * An instance listed the log, a writer checkpointed that version, another instance listed the
 * checkpoint, and a reader GETs it from the first one, all within one tick of the instances' clock
 * (it stands still here). The look for the checkpoint finds it; the listing held from the same
 * tick began before it was written and must not answer for it (a 404 for a listed checkpoint).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { versionPrefix } from '../../lambda/delta/log-path';
import {
  type AuthzProxy,
  listAllPages,
  ManualClock,
  objectRequest,
  startAuthzProxy,
} from '../helpers/authz-harness';
import { writeTable } from '../helpers/fault-tables';
import { backendClient, createBucket, type S3Server, startS3rver } from '../helpers/s3-servers';

let s3: S3Server;
let client: S3Client;
const started: AuthzProxy[] = [];

beforeAll(async () => {
  s3 = await startS3rver();
  client = backendClient(s3.endpoint);
  await createBucket(client, 'lake');
});

afterAll(async () => {
  for (const p of started) await p.stop();
  client?.destroy();
  await s3?.stop();
});

it('a checkpoint written in the tick an instance listed its version is served once another instance lists it', async () => {
  const clock = new ManualClock();
  const table = await writeTable(client, 'lake', 't', 't/');
  await table.commitFiles('EU', 'US'); // 1, 2
  const instance = async () => {
    const p = await startAuthzProxy(
      s3,
      {
        logView: 'filtered',
        tableMapping: { t: 's3://lake/t' },
        grants: [{ principal: 'eu', table: 't', partitions: [{ region: 'EU' }] }],
      },
      ['eu'],
      { clock },
    );
    started.push(p);
    return p;
  };
  const a = await instance();
  const b = await instance();
  const logKeys = async (p: AuthzProxy) =>
    (await listAllPages(p.url, 'eu', 2, { prefix: 't/_delta_log/' }, 'datalake', 10, clock)).flatMap(
      (x) => x.keys,
    );
  const checkpoint = `t/_delta_log/${versionPrefix(2)}.checkpoint.parquet`;
  expect(await logKeys(b)).not.toContain(checkpoint);
  await table.writer.checkpoint(); // at 2
  expect(await logKeys(a)).toContain(checkpoint);
  const got = await objectRequest(b.url, 'GET', checkpoint, 'eu', 'datalake', clock);
  expect(got.status).toBe(200);
});
